import { existsSync, readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error.ts';
import { ensureSecretKey, parseSecretKeyHex } from './secret-key.ts';

export { ConfigError };

export type SipTransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SipListener {
  transport: SipTransportName;
  host: string;
  port: number;
}

export interface Config {
  db: { url: string };
  dataDir: string;
  sip: {
    listen: SipListener[];
    publicAddress?: string;
    /** DNS servers for locating SIP servers of providers (RFC 3263); default: the system's. */
    dnsServers?: string[];
    tls?: { certFile: string; keyFile: string };
    /** Extra CA certificates (PEM) trusted for outgoing TLS, besides the public roots (e.g. a trunk's private CA). */
    tlsCaFile?: string;
    udpReceiveBufferBytes: number;
    /** RFC 3261 T1 (ms): the round-trip estimate every transaction timer derives from (Timer B/F/H/M = 64×T1). */
    t1Ms: number;
  };
  http: { host: string; port: number };
  /** GET /metrics (Prometheus) answers only with `Authorization: Bearer <token>`; unset: /metrics is off (404). */
  metrics?: { token?: string };
  logLevel: LogLevel;
  secretKey: Buffer;
  registrar: {
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    maxBindings: number;
    keepAliveIntervalSec: number;
    /** OPTIONS qualify probe period (s) for bindings of accounts with NAT keep-alive; 0 = off. */
    qualifyIntervalSec: number;
    /** Digest algorithms offered in challenges, in order. */
    digestAlgorithms: DigestAlgorithmName[];
  };
  sandbox: {
    memoryMb: number;
    cpuMs: number;
    /** Per tenant and per direction (inbound and outbound each have this many). */
    maxConcurrent: number;
    /** Inbound executions at once from one source address. */
    maxInboundPerSource: number;
    /** Account the sandbox worker runs as when the switch runs as root. */
    user: string;
    /** Refuse dialplans on a Node whose V8 gets no security fixes (default: NODE_ENV=production). */
    requireSupportedNode: boolean;
    allowUnsupportedNode: boolean;
    /** Keys one tenant may keep in the dialplans' key/value store (sys.DBWrite). */
    kvMaxKeys: number;
    /** UTF-8 bytes of keys and values one tenant may keep there. */
    kvMaxBytes: number;
  };
  calls: {
    /** CIDRs that dialled legs may reach although not public, on any port (normalized `address/prefix`). */
    allowedLegNetworks: string[];
  };
  park: {
    /** Park slot numbers, `first-last` (each tenant has its own). */
    slots: string;
    /** Seconds before a parked call is recalled to its parker; 0 = never. */
    recallSeconds: number;
  };
  security: {
    /** CIDRs exempt from brute-force bans (the operator's own networks, monitoring). */
    trustedNetworks: string[];
    /** Failed authentications per source per 60 s that ban it. */
    authFailuresPerSource: number;
    /** Failed authentications per account per 10 min after which each failing source is banned. */
    authFailuresPerAccount: number;
    /** First ban (s); doubles per repeat up to 24 h. */
    authBanSec: number;
    /** Open TCP/TLS/WS connections per source address. */
    maxConnectionsPerSource: number;
    /** Open TCP/TLS/WS connections in total per listener. */
    maxConnections: number;
    /** A new connection must deliver a whole SIP message (and any later message must complete) within this (s). */
    firstMessageTimeoutSec: number;
    /** A connection with neither a message nor a CRLF keep-alive for this long is closed (s). */
    idleConnectionTimeoutSec: number;
    /** Live server transactions beyond which new requests get a stateless 503. */
    maxServerTransactions: number;
    /** Sustained SIP requests per second per source address (IPv6: per /64); 0 = no limit. */
    rateLimitPerSource: number;
    /** Requests a source may send at once above its sustained rate. */
    rateLimitBurst: number;
    /** Live calls (and so dialogs) beyond which a new INVITE gets 503 with Retry-After. */
    maxCalls: number;
    /** Every this many seconds one `sip.stats` info line with table sizes and counters; 0 = off. */
    statsIntervalSec: number;
  };
}

export interface LoadConfigOptions {
  /** Command-line arguments; only `--config <file>` / `--config=<file>` is read here. */
  argv?: readonly string[];
  /** Environment; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Path of a JSON config file (wins over --config and PATCHBAY_CONFIG). */
  file?: string;
}

export type DigestAlgorithmName = 'MD5' | 'SHA-256';
const DIGEST_ALGORITHMS: readonly DigestAlgorithmName[] = ['MD5', 'SHA-256'];

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const TRANSPORTS: readonly SipTransportName[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

function show(raw: unknown): string {
  return JSON.stringify(raw) ?? String(raw);
}

/** Wraps a plain parser as a zod schema so every setting is validated through zod with one clear message. */
function settingSchema<T>(parse: (raw: unknown) => T): z.ZodType<T> {
  return z.unknown().transform((raw, ctx) => {
    try {
      return parse(raw);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  }) as unknown as z.ZodType<T>;
}

function integer(min: number, max: number): z.ZodType<number> {
  return settingSchema((raw) => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`expected an integer from ${min} to ${max}, got ${show(raw)}`);
    }
    return n;
  });
}

function nonEmptyString(what: string): z.ZodType<string> {
  return settingSchema((raw) => {
    if (typeof raw !== 'string' || raw.trim() === '') throw new Error(`expected ${what}, got ${show(raw)}`);
    return raw.trim();
  });
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/;

function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = HOST_PORT.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

const httpListenSchema = settingSchema((raw) => {
  if (typeof raw === 'object' && raw !== null) {
    const o = raw as { host?: unknown; port?: unknown };
    if (typeof o.host === 'string' && Number.isInteger(o.port) && (o.port as number) >= 0 && (o.port as number) <= 65535) {
      return { host: o.host, port: o.port as number };
    }
  }
  const hp = typeof raw === 'string' ? splitHostPort(raw) : undefined;
  if (!hp) throw new Error(`expected host:port, got ${show(raw)}`);
  return hp;
});

function parseListener(item: unknown): SipListener {
  if (typeof item === 'object' && item !== null) {
    const o = item as { transport?: unknown; host?: unknown; port?: unknown };
    if (
      TRANSPORTS.includes(o.transport as SipTransportName) &&
      typeof o.host === 'string' &&
      Number.isInteger(o.port) &&
      (o.port as number) >= 0 &&
      (o.port as number) <= 65535
    ) {
      return { transport: o.transport as SipTransportName, host: o.host, port: o.port as number };
    }
  }
  if (typeof item === 'string') {
    const colon = item.indexOf(':');
    const transport = item.slice(0, colon).trim().toLowerCase() as SipTransportName;
    const hp = colon > 0 ? splitHostPort(item.slice(colon + 1)) : undefined;
    if (hp && TRANSPORTS.includes(transport)) return { transport, ...hp };
  }
  throw new Error(`expected transport:host:port with transport one of ${TRANSPORTS.join('|')}, got ${show(item)}`);
}

const sipListenSchema = settingSchema((raw) => {
  const items = typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : raw;
  if (!Array.isArray(items) || items.length === 0) {
    throw new Error(`expected a comma list like udp:0.0.0.0:5060,tcp:0.0.0.0:5060, got ${show(raw)}`);
  }
  return items.map(parseListener);
});

const dbUrlSchema = settingSchema((raw) => {
  if (typeof raw !== 'string') throw new Error(`expected sqlite:<path> or mysql://user:pass@host:port/db, got ${show(raw)}`);
  const url = raw.trim();
  if (/^sqlite:.+/.test(url)) return url;
  if (/^(mysql|mariadb):\/\//.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`not a valid URL: ${show(raw)}`);
    }
    if (!parsed.hostname || parsed.pathname.replace(/^\//, '') === '') {
      throw new Error(`expected mysql://user:pass@host:port/db (host and database name required), got ${show(raw)}`);
    }
    return url;
  }
  throw new Error(`expected sqlite:<path> or mysql://user:pass@host:port/db, got ${show(raw)}`);
});

const logLevelSchema = settingSchema((raw) => {
  const level = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (!LOG_LEVELS.includes(level as LogLevel)) throw new Error(`expected one of ${LOG_LEVELS.join('|')}, got ${show(raw)}`);
  return level as LogLevel;
});

const digestAlgorithmsSchema = settingSchema((raw) => {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (!items) throw new Error(`expected a comma list of ${DIGEST_ALGORITHMS.join('|')}, got ${show(raw)}`);
  const out: DigestAlgorithmName[] = [];
  for (const item of items) {
    const name = String(item).trim().toUpperCase();
    const known = DIGEST_ALGORITHMS.find((a) => a === name);
    if (!known) throw new Error(`expected a comma list of ${DIGEST_ALGORITHMS.join('|')}, got ${show(raw)}`);
    if (!out.includes(known)) out.push(known);
  }
  if (out.length === 0) throw new Error('expected at least one algorithm');
  return out;
});

const secretKeySchema = settingSchema((raw) => {
  const key = typeof raw === 'string' ? parseSecretKeyHex(raw) : undefined;
  if (!key) throw new Error('expected 64 hex characters (an AES-256 key)');
  return key;
});

/** CIDR lists (allowed leg networks, trusted networks): validated with the BlockList they are matched with, so what loads also matches. */
const dnsServersSchema = settingSchema((raw) => {
  const items = (Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(',') : []).map((x) => x.trim()).filter(Boolean);
  for (const item of items) {
    const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(item) ?? /^([0-9.]+)(?::(\d{1,5}))?$/.exec(item) ?? /^([0-9A-Fa-f:]+)()$/.exec(item);
    if (!m || isIP(m[1]!) === 0 || (m[2] && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
      throw new Error(`expected a comma list of IP addresses with optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53), got ${show(item)}`);
    }
  }
  return items;
});

const networkListSchema = settingSchema((raw) => {
  const items = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(',') : undefined;
  if (!items) throw new Error(`expected a comma list of CIDRs like 10.1.0.0/16,2001:db8::/32, got ${show(raw)}`);
  const out: string[] = [];
  for (const item of items) {
    const text = item.trim();
    if (text === '') continue;
    const [address = '', prefixText, extra] = text.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new Error(`expected a comma list of CIDRs like 10.1.0.0/16,2001:db8::/32, got ${show(text)}`);
    }
    new BlockList().addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    out.push(`${address}/${prefix}`);
  }
  return out;
});

const parkSlotsSchema = settingSchema((raw) => {
  const m = /^\s*(\d{1,6})\s*-\s*(\d{1,6})\s*$/.exec(String(raw));
  if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) - Number(m[1]) >= 100 || /^0\d/.test(m[1]!)) {
    throw new Error(`expected a slot range first-last of at most 100 numbers like 70-79, got "${String(raw)}"`);
  }
  return `${Number(m[1])}-${Number(m[2])}`;
});

const booleanSchema = settingSchema((raw) => {
  if (typeof raw === 'boolean') return raw;
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (text !== undefined && ['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (text !== undefined && ['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new Error(`expected true|false (or 1|0), got ${show(raw)}`);
});

/** Never echoed in an error: it is a secret. */
const metricsTokenSchema = settingSchema((raw) => {
  if (typeof raw !== 'string' || raw.trim().length < 16) throw new Error('expected a token of at least 16 characters');
  return raw.trim();
});

const userNameSchema = settingSchema((raw) => {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/.test(raw.trim())) {
    throw new Error(`expected a system user name, got ${show(raw)}`);
  }
  if (raw.trim() === 'root') throw new Error('the sandbox needs an unprivileged user, not root');
  return raw.trim();
});

const existingFileSchema = settingSchema((raw) => {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error(`expected a file path, got ${show(raw)}`);
  if (!existsSync(raw)) throw new Error(`file not found: ${raw}`);
  return raw;
});

interface SettingSpec {
  env: string;
  /** Dotted path in the JSON config file and in the resulting Config. */
  key: string;
  schema: z.ZodType<unknown>;
  fallback?: (partial: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>) => unknown;
}

const SETTINGS: readonly SettingSpec[] = [
  { env: 'PATCHBAY_DATA_DIR', key: 'dataDir', schema: nonEmptyString('a directory path'), fallback: () => './data' },
  {
    env: 'PATCHBAY_DB',
    key: 'db.url',
    schema: dbUrlSchema,
    fallback: (p) => `sqlite:${path.join(p['dataDir'] as string, 'patchbay.db')}`,
  },
  { env: 'PATCHBAY_SIP_LISTEN', key: 'sip.listen', schema: sipListenSchema, fallback: () => 'udp:0.0.0.0:5060,tcp:0.0.0.0:5060' },
  { env: 'PATCHBAY_PUBLIC_ADDRESS', key: 'sip.publicAddress', schema: nonEmptyString('a host name or IP address') },
  { env: 'PATCHBAY_DNS_SERVERS', key: 'sip.dnsServers', schema: dnsServersSchema },
  { env: 'PATCHBAY_TLS_CERT', key: 'sip.tls.certFile', schema: existingFileSchema },
  { env: 'PATCHBAY_TLS_KEY', key: 'sip.tls.keyFile', schema: existingFileSchema },
  { env: 'PATCHBAY_TLS_CA', key: 'sip.tlsCaFile', schema: existingFileSchema },
  {
    env: 'PATCHBAY_UDP_RECV_BUFFER',
    key: 'sip.udpReceiveBufferBytes',
    schema: integer(0, 1 << 30),
    fallback: () => 4 * 1024 * 1024,
  },
  { env: 'PATCHBAY_SIP_T1', key: 'sip.t1Ms', schema: integer(50, 5_000), fallback: () => 500 },
  { env: 'PATCHBAY_HTTP_LISTEN', key: 'http', schema: httpListenSchema, fallback: () => '0.0.0.0:8080' },
  { env: 'PATCHBAY_LOG_LEVEL', key: 'logLevel', schema: logLevelSchema, fallback: () => 'info' },
  { env: 'PATCHBAY_SECRET_KEY', key: 'secretKey', schema: secretKeySchema },
  { env: 'PATCHBAY_REG_MIN_EXPIRES', key: 'registrar.minExpires', schema: integer(1, 86_400), fallback: () => 60 },
  { env: 'PATCHBAY_REG_MAX_EXPIRES', key: 'registrar.maxExpires', schema: integer(1, 604_800), fallback: () => 3600 },
  { env: 'PATCHBAY_REG_DEFAULT_EXPIRES', key: 'registrar.defaultExpires', schema: integer(1, 604_800), fallback: () => 3600 },
  { env: 'PATCHBAY_REG_MAX_BINDINGS', key: 'registrar.maxBindings', schema: integer(1, 1000), fallback: () => 10 },
  { env: 'PATCHBAY_KEEPALIVE_INTERVAL', key: 'registrar.keepAliveIntervalSec', schema: integer(0, 3600), fallback: () => 20 },
  { env: 'PATCHBAY_QUALIFY_INTERVAL', key: 'registrar.qualifyIntervalSec', schema: integer(0, 86_400), fallback: () => 60 },
  { env: 'PATCHBAY_DIGEST_ALGORITHMS', key: 'registrar.digestAlgorithms', schema: digestAlgorithmsSchema, fallback: () => 'MD5' },
  { env: 'PATCHBAY_SANDBOX_MEMORY_MB', key: 'sandbox.memoryMb', schema: integer(8, 4096), fallback: () => 32 },
  { env: 'PATCHBAY_SANDBOX_CPU_MS', key: 'sandbox.cpuMs', schema: integer(10, 600_000), fallback: () => 1000 },
  { env: 'PATCHBAY_SANDBOX_MAX_CONCURRENT', key: 'sandbox.maxConcurrent', schema: integer(1, 10_000), fallback: () => 5 },
  { env: 'PATCHBAY_ALLOWED_LEG_NETWORKS', key: 'calls.allowedLegNetworks', schema: networkListSchema, fallback: () => '' },
  { env: 'PATCHBAY_PARK_SLOTS', key: 'park.slots', schema: parkSlotsSchema, fallback: () => '70-79' },
  { env: 'PATCHBAY_PARK_RECALL_SEC', key: 'park.recallSeconds', schema: integer(0, 86_400), fallback: () => 120 },
  { env: 'PATCHBAY_TRUSTED_NETWORKS', key: 'security.trustedNetworks', schema: networkListSchema, fallback: () => '' },
  { env: 'PATCHBAY_AUTH_FAILURES_PER_SOURCE', key: 'security.authFailuresPerSource', schema: integer(1, 1_000_000), fallback: () => 10 },
  { env: 'PATCHBAY_AUTH_FAILURES_PER_ACCOUNT', key: 'security.authFailuresPerAccount', schema: integer(1, 1_000_000), fallback: () => 30 },
  { env: 'PATCHBAY_AUTH_BAN_SEC', key: 'security.authBanSec', schema: integer(1, 86_400), fallback: () => 600 },
  { env: 'PATCHBAY_MAX_CONNECTIONS_PER_SOURCE', key: 'security.maxConnectionsPerSource', schema: integer(1, 1_000_000), fallback: () => 50 },
  { env: 'PATCHBAY_MAX_CONNECTIONS', key: 'security.maxConnections', schema: integer(1, 10_000_000), fallback: () => 10_000 },
  { env: 'PATCHBAY_FIRST_MESSAGE_TIMEOUT', key: 'security.firstMessageTimeoutSec', schema: integer(1, 3600), fallback: () => 10 },
  { env: 'PATCHBAY_IDLE_CONNECTION_TIMEOUT', key: 'security.idleConnectionTimeoutSec', schema: integer(10, 86_400), fallback: () => 300 },
  { env: 'PATCHBAY_MAX_SERVER_TRANSACTIONS', key: 'security.maxServerTransactions', schema: integer(100, 100_000_000), fallback: () => 100_000 },
  { env: 'PATCHBAY_RATE_LIMIT_PER_SOURCE', key: 'security.rateLimitPerSource', schema: integer(0, 1_000_000), fallback: () => 100 },
  {
    env: 'PATCHBAY_RATE_LIMIT_BURST',
    key: 'security.rateLimitBurst',
    schema: integer(1, 10_000_000),
    fallback: (partial) => Math.max(1, 2 * Number(getPath(partial, 'security.rateLimitPerSource') ?? 100)),
  },
  { env: 'PATCHBAY_MAX_CALLS', key: 'security.maxCalls', schema: integer(1, 10_000_000), fallback: () => 20_000 },
  { env: 'PATCHBAY_STATS_INTERVAL', key: 'security.statsIntervalSec', schema: integer(0, 86_400), fallback: () => 0 },
  { env: 'PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE', key: 'sandbox.maxInboundPerSource', schema: integer(1, 10_000), fallback: () => 2 },
  { env: 'PATCHBAY_SANDBOX_USER', key: 'sandbox.user', schema: userNameSchema, fallback: () => 'nobody' },
  {
    env: 'PATCHBAY_SANDBOX_REQUIRE_SUPPORTED_NODE',
    key: 'sandbox.requireSupportedNode',
    schema: booleanSchema,
    fallback: (_partial, env) => env['NODE_ENV'] === 'production',
  },
  { env: 'PATCHBAY_ALLOW_UNSUPPORTED_NODE', key: 'sandbox.allowUnsupportedNode', schema: booleanSchema, fallback: () => false },
  { env: 'PATCHBAY_KV_MAX_KEYS', key: 'sandbox.kvMaxKeys', schema: integer(1, 10_000_000), fallback: () => 1000 },
  { env: 'PATCHBAY_KV_MAX_BYTES', key: 'sandbox.kvMaxBytes', schema: integer(1024, 1_073_741_824), fallback: () => 1_048_576 },
  { env: 'PATCHBAY_METRICS_TOKEN', key: 'metrics.token', schema: metricsTokenSchema },
];

function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== 'object' || cur[part] === null) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function configFileFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config file', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('config file', `${file} must contain a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Builds the configuration from defaults, an optional JSON file and environment variables
 * (environment wins). Throws ConfigError naming the first bad setting.
 * When no secret key is configured, it is read from (or generated into) `<dataDir>/secret.key`;
 * with an explicit key nothing on disk is touched.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const settings = loadSettings(options);
  return { ...settings, secretKey: settings.secretKey ?? ensureSecretKey(settings.dataDir) };
}

/** Everything loadConfig does except reading/generating the secret key file (for commands that need no key). */
export function loadSettings(options: LoadConfigOptions = {}): Omit<Config, 'secretKey'> & { secretKey?: Buffer } {
  const env = options.env ?? process.env;
  const argv = options.argv ?? [];
  const filePath = options.file ?? configFileFromArgv(argv) ?? (env['PATCHBAY_CONFIG'] || undefined);
  const fileValues = filePath ? readConfigFile(filePath) : {};
  const result: Record<string, unknown> = {};

  for (const spec of SETTINGS) {
    const envValue = env[spec.env];
    let raw: unknown;
    let source: string;
    if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      source = spec.env;
    } else if (getPath(fileValues, spec.key) !== undefined) {
      raw = getPath(fileValues, spec.key);
      source = `${filePath}: ${spec.key}`;
    } else if (spec.fallback) {
      raw = spec.fallback(result, env);
      source = `${spec.env} (default)`;
    } else {
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(source, parsed.error.issues[0]?.message ?? 'invalid value');
    setPath(result, spec.key, parsed.data);
  }

  const config = result as unknown as Omit<Config, 'secretKey'> & { secretKey?: Buffer };
  checkConsistency(config);
  return config;
}

function checkConsistency(config: Omit<Config, 'secretKey'>): void {
  const tls = config.sip.tls as Partial<{ certFile: string; keyFile: string }> | undefined;
  if (tls && !tls.certFile) throw new ConfigError('PATCHBAY_TLS_CERT', 'required when PATCHBAY_TLS_KEY is set');
  if (tls && !tls.keyFile) throw new ConfigError('PATCHBAY_TLS_KEY', 'required when PATCHBAY_TLS_CERT is set');
  const secure = config.sip.listen.find((l) => l.transport === 'tls' || l.transport === 'wss');
  if (secure && !tls) {
    throw new ConfigError('PATCHBAY_SIP_LISTEN', `a ${secure.transport} listener needs PATCHBAY_TLS_CERT and PATCHBAY_TLS_KEY`);
  }
  const r = config.registrar;
  if (r.minExpires > r.maxExpires) {
    throw new ConfigError('PATCHBAY_REG_MIN_EXPIRES', `${r.minExpires} is above PATCHBAY_REG_MAX_EXPIRES (${r.maxExpires})`);
  }
  if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires) {
    throw new ConfigError(
      'PATCHBAY_REG_DEFAULT_EXPIRES',
      `${r.defaultExpires} is outside ${r.minExpires}..${r.maxExpires} (min/max expires)`,
    );
  }
}
