export { loadConfig, loadSettings } from './load-config.ts';
export { ConfigError } from './config-error.ts';
export type { Config, LoadConfigOptions, LogLevel, SipListener, SipTransportName } from './load-config.ts';
export { ensureSecretKey, parseSecretKeyHex } from './secret-key.ts';
export { prepareDataDir } from './data-dir.ts';
