import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, prepareDataDir } from './index.ts';

const KEY = 'ab'.repeat(32);

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'patchbay-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the documented defaults', () => {
    const c = loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY } });
    expect(c.dataDir).toBe('./data');
    expect(c.db.url).toBe(`sqlite:${path.join('./data', 'patchbay.db')}`);
    expect(c.sip.listen).toEqual([
      { transport: 'udp', host: '0.0.0.0', port: 5060 },
      { transport: 'tcp', host: '0.0.0.0', port: 5060 },
    ]);
    expect(c.http).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.sip.udpReceiveBufferBytes).toBe(4 * 1024 * 1024);
    expect(c.sip.t1Ms).toBe(500);
    expect(c.sip.publicAddress).toBeUndefined();
    expect(c.sip.tls).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.secretKey.toString('hex')).toBe(KEY);
    expect(c.registrar).toEqual({ minExpires: 60, maxExpires: 3600, defaultExpires: 3600, maxBindings: 10, keepAliveIntervalSec: 20, qualifyIntervalSec: 60, digestAlgorithms: ['MD5'] });
    expect(c.sandbox).toEqual({
      memoryMb: 32,
      cpuMs: 1000,
      maxConcurrent: 5,
      maxInboundPerSource: 2,
      user: 'nobody',
      requireSupportedNode: false,
      allowUnsupportedNode: false,
      kvMaxKeys: 1000,
      kvMaxBytes: 1_048_576,
    });
    expect(c.security).toEqual({
      trustedNetworks: [], authFailuresPerSource: 10, authFailuresPerAccount: 30, authBanSec: 600,
      maxConnectionsPerSource: 50, maxConnections: 10_000, firstMessageTimeoutSec: 10, idleConnectionTimeoutSec: 300, maxServerTransactions: 100_000,
      rateLimitPerSource: 100, rateLimitBurst: 200, maxCalls: 20_000, statsIntervalSec: 0,
    });
    expect(c.calls).toEqual({ allowedLegNetworks: [] });
  });

  it('reads the allowed leg networks and refuses a bad one naming the variable', () => {
    const c = loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_ALLOWED_LEG_NETWORKS: ' 127.0.0.0/8, 10.20.0.0/16,2001:db8::/32,192.0.2.7' } });
    expect(c.calls.allowedLegNetworks).toEqual(['127.0.0.0/8', '10.20.0.0/16', '2001:db8::/32', '192.0.2.7/32']);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_ALLOWED_LEG_NETWORKS: '10.0.0.0/33' } })).toThrow(/PATCHBAY_ALLOWED_LEG_NETWORKS: expected a comma list of CIDRs/);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_ALLOWED_LEG_NETWORKS: 'lan' } })).toThrow(/PATCHBAY_ALLOWED_LEG_NETWORKS/);
  });

  it('reads the DNS servers for RFC 3263 and refuses a host name', () => {
    expect(loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY } }).sip.dnsServers).toBeUndefined();
    const c = loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_DNS_SERVERS: '192.0.2.53, 127.0.0.1:5353,[2001:db8::53]:53' } });
    expect(c.sip.dnsServers).toEqual(['192.0.2.53', '127.0.0.1:5353', '[2001:db8::53]:53']);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_DNS_SERVERS: 'dns.example' } })).toThrow(/PATCHBAY_DNS_SERVERS: expected a comma list of IP addresses/);
  });

  it('reads the sandbox security settings; production requires a supported Node unless told otherwise', () => {
    const env = { PATCHBAY_SECRET_KEY: KEY };
    expect(loadConfig({ env: { ...env, NODE_ENV: 'production' } }).sandbox.requireSupportedNode).toBe(true);
    expect(loadConfig({ env: { ...env, NODE_ENV: 'production', PATCHBAY_SANDBOX_REQUIRE_SUPPORTED_NODE: 'false' } }).sandbox.requireSupportedNode).toBe(false);
    expect(loadConfig({ env: { ...env, PATCHBAY_ALLOW_UNSUPPORTED_NODE: '1' } }).sandbox.allowUnsupportedNode).toBe(true);
    expect(loadConfig({ env: { ...env, PATCHBAY_SANDBOX_USER: 'patchbay-sandbox' } }).sandbox.user).toBe('patchbay-sandbox');
    expect(loadConfig({ env: { ...env, PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE: '7' } }).sandbox.maxInboundPerSource).toBe(7);
    expect(() => loadConfig({ env: { ...env, PATCHBAY_SANDBOX_USER: 'root' } })).toThrow(/PATCHBAY_SANDBOX_USER.*not root/);
    expect(() => loadConfig({ env: { ...env, PATCHBAY_SANDBOX_USER: 'a b' } })).toThrow(/PATCHBAY_SANDBOX_USER/);
    expect(() => loadConfig({ env: { ...env, PATCHBAY_ALLOW_UNSUPPORTED_NODE: 'maybe' } })).toThrow(/PATCHBAY_ALLOW_UNSUPPORTED_NODE/);
    expect(() => loadConfig({ env: { ...env, PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE: '0' } })).toThrow(/PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE/);
  });

  it('reads the qualify interval and refuses a bad one naming the variable', () => {
    expect(loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_QUALIFY_INTERVAL: '5' } }).registrar.qualifyIntervalSec).toBe(5);
    expect(loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_QUALIFY_INTERVAL: '0' } }).registrar.qualifyIntervalSec).toBe(0);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_QUALIFY_INTERVAL: '-1' } })).toThrow(/PATCHBAY_QUALIFY_INTERVAL/);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_QUALIFY_INTERVAL: 'soon' } })).toThrow(ConfigError);
  });

  it('reads the SIP T1 and refuses one outside 50-5000 ms naming the variable', () => {
    expect(loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_SIP_T1: '100' } }).sip.t1Ms).toBe(100);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_SIP_T1: '10' } })).toThrow(/PATCHBAY_SIP_T1/);
  });

  it('reads the trusted networks as a CIDR list and refuses a bad one', () => {
    const c = loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_TRUSTED_NETWORKS: '10.0.0.0/8, 2001:db8::/32,192.0.2.7' } });
    expect(c.security.trustedNetworks).toEqual(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7/32']);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_TRUSTED_NETWORKS: '10.0.0.0/33' } })).toThrow(/PATCHBAY_TRUSTED_NETWORKS/);
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_TRUSTED_NETWORKS: 'office' } })).toThrow(/PATCHBAY_TRUSTED_NETWORKS/);
  });

  it('reads the digest algorithms in order, case-insensitively', () => {
    const c = loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_DIGEST_ALGORITHMS: 'sha-256, md5' } });
    expect(c.registrar.digestAlgorithms).toEqual(['SHA-256', 'MD5']);
  });

  it('does not touch disk when the key comes from the environment', () => {
    loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_DATA_DIR: path.join(dir, 'd') } });
    expect(existsSync(path.join(dir, 'd'))).toBe(false);
  });

  it('parses every listener form including IPv6 and all transports', () => {
    const cert = path.join(dir, 'c.pem');
    writeFileSync(cert, 'x');
    const c = loadConfig({
      env: {
        PATCHBAY_SECRET_KEY: KEY,
        PATCHBAY_SIP_LISTEN: 'udp:0.0.0.0:5060,tcp:[::1]:5070,tls:0.0.0.0:5061,ws:0.0.0.0:8088',
        PATCHBAY_TLS_CERT: cert,
        PATCHBAY_TLS_KEY: cert,
        PATCHBAY_HTTP_LISTEN: '127.0.0.1:0',
        PATCHBAY_DB: 'mysql://u:p@db.example:3306/patchbay',
        PATCHBAY_LOG_LEVEL: 'DEBUG',
        PATCHBAY_REG_MAX_BINDINGS: '3',
      },
    });
    expect(c.sip.listen[1]).toEqual({ transport: 'tcp', host: '::1', port: 5070 });
    expect(c.sip.listen.map((l) => l.transport)).toEqual(['udp', 'tcp', 'tls', 'ws']);
    expect(c.sip.tls).toEqual({ certFile: cert, keyFile: cert });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.db.url).toBe('mysql://u:p@db.example:3306/patchbay');
    expect(c.logLevel).toBe('debug');
    expect(c.registrar.maxBindings).toBe(3);
  });

  it.each([
    ['PATCHBAY_HTTP_LISTEN', 'abc', 'config: PATCHBAY_HTTP_LISTEN: expected host:port, got "abc"'],
    ['PATCHBAY_SIP_LISTEN', 'sctp:1.2.3.4:5060', 'config: PATCHBAY_SIP_LISTEN: expected transport:host:port'],
    ['PATCHBAY_DB', 'postgres://x', 'config: PATCHBAY_DB: expected sqlite:<path>'],
    ['PATCHBAY_REG_MAX_BINDINGS', 'ten', 'config: PATCHBAY_REG_MAX_BINDINGS: expected an integer'],
    ['PATCHBAY_LOG_LEVEL', 'loud', 'config: PATCHBAY_LOG_LEVEL: expected one of'],
    ['PATCHBAY_SECRET_KEY', 'abcd', 'config: PATCHBAY_SECRET_KEY: expected 64 hex'],
    ['PATCHBAY_DIGEST_ALGORITHMS', 'MD5,SHA-1', 'config: PATCHBAY_DIGEST_ALGORITHMS: expected a comma list of MD5|SHA-256'],
    ['PATCHBAY_TLS_CERT', '/nonexistent/cert.pem', 'config: PATCHBAY_TLS_CERT: file not found'],
  ])('rejects a bad %s with one line naming it', (name, value, prefix) => {
    let err: unknown;
    try {
      loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, [name]: value } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message.startsWith(prefix)).toBe(true);
    expect(message).not.toContain('\n');
    expect((err as ConfigError).setting).toBe(name);
  });

  it('requires TLS files for a tls listener', () => {
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_SIP_LISTEN: 'tls:0.0.0.0:5061' } })).toThrow(
      /PATCHBAY_SIP_LISTEN: a tls listener needs/,
    );
  });

  it('reads a JSON file (--config) with env winning over it', () => {
    const file = path.join(dir, 'patchbay.json');
    writeFileSync(file, JSON.stringify({ http: { host: '127.0.0.1', port: 9000 }, logLevel: 'warn', registrar: { maxBindings: 4 } }));
    const c = loadConfig({ argv: ['serve', '--config', file], env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_LOG_LEVEL: 'error' } });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(c.logLevel).toBe('error');
    expect(c.registrar.maxBindings).toBe(4);
  });

  it('names the file and key for a bad file value', () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ registrar: { minExpires: 'x' } }));
    expect(() => loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_CONFIG: file } })).toThrow(
      `config: ${file}: registrar.minExpires: expected an integer`,
    );
  });

  it('generates a 0600 secret key file once and then reuses it', () => {
    const dataDir = path.join(dir, 'data');
    const a = loadConfig({ env: { PATCHBAY_DATA_DIR: dataDir } });
    const file = path.join(dataDir, 'secret.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(a.secretKey.toString('hex'));
    expect(a.secretKey.length).toBe(32);
    const b = loadConfig({ env: { PATCHBAY_DATA_DIR: dataDir } });
    expect(b.secretKey.equals(a.secretKey)).toBe(true);
  });

  it('keeps the data dir 0700 and the key file 0600, tightening ones left open', () => {
    const dataDir = path.join(dir, 'data');
    loadConfig({ env: { PATCHBAY_DATA_DIR: dataDir } });
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const file = path.join(dataDir, 'secret.key');
    chmodSync(dataDir, 0o755);
    chmodSync(file, 0o644);
    loadConfig({ env: { PATCHBAY_DATA_DIR: dataDir } });
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const other = path.join(dir, 'other');
    chmodSync(dir, 0o755);
    prepareDataDir(other);
    expect(statSync(other).mode & 0o777).toBe(0o700);
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    expect(() => prepareDataDir(path.join(dir, 'not-a-dir'))).toThrow(/PATCHBAY_DATA_DIR.*not a directory/);
  });

  it('takes a metrics token of at least 16 characters and never echoes a refused one', () => {
    expect(loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY } }).metrics).toBeUndefined();
    expect(loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_METRICS_TOKEN: 'scrape-me-0123456789' } }).metrics).toEqual({ token: 'scrape-me-0123456789' });
    let message = '';
    try {
      loadConfig({ env: { PATCHBAY_SECRET_KEY: KEY, PATCHBAY_METRICS_TOKEN: 'short-secret' } });
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/PATCHBAY_METRICS_TOKEN: expected a token of at least 16 characters/);
    expect(message).not.toContain('short-secret');
  });
});

