import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config-error.ts';
import { prepareDataDir } from './data-dir.ts';

export function parseSecretKeyHex(text: string): Buffer | undefined {
  const hex = text.trim();
  return /^[0-9a-fA-F]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

/**
 * Returns the key stored in `<dataDir>/secret.key`, generating it (mode 0600) on first use so a bare
 * `npm start` works and provider passwords stay readable across restarts.
 */
export function ensureSecretKey(dataDir: string): Buffer {
  prepareDataDir(dataDir);
  const file = path.join(dataDir, 'secret.key');
  let existing: string | undefined;
  try {
    existing = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('PATCHBAY_SECRET_KEY', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  if (existing !== undefined) {
    const key = parseSecretKeyHex(existing);
    if (!key) throw new ConfigError('PATCHBAY_SECRET_KEY', `${file} does not hold 64 hex characters`);
    // A key file copied in with a default umask would be readable by every local user.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return key;
  }
  const key = randomBytes(32);
  try {
    // 'wx' so two processes starting together never overwrite each other's key.
    writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return ensureSecretKey(dataDir);
    throw new ConfigError('PATCHBAY_SECRET_KEY', `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return key;
}
