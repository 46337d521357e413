import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sqliteDriver } from '../../db/index.ts';
import { Kysely, Migrator, MysqlDialect, SqliteDialect } from 'kysely';
import { createPool } from 'mysql2';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestHa1, openDatabase } from '../../db/index.ts';
import { createMigrationProvider } from '../../db/migrations.ts';
import { testDatabaseTargets, type TestDatabaseTarget } from '../../db/test-databases.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/patchbay.js');
const SECRET = 'cd'.repeat(32);
const PASSWORD = 'Clear-Pa55word-e2e';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function baseEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: SECRET, ...extra };
  for (const k of Object.keys(env)) if (k.startsWith('PATCHBAY_') && !(k in extra) && k !== 'PATCHBAY_DATA_DIR' && k !== 'PATCHBAY_SECRET_KEY') delete env[k];
  return env;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every row of every table, as text, to prove the clear password was never stored. */
async function dumpAllRows(url: string): Promise<string> {
  if (url.startsWith('sqlite:')) {
    const sqlite = new (sqliteDriver())(url.slice('sqlite:'.length), { readonly: true });
    try {
      const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[];
      return tables.map((t) => JSON.stringify(sqlite.prepare(`SELECT * FROM "${t.name}"`).all())).join('\n');
    } finally {
      sqlite.close();
    }
  }
  const conn = await createConnection({ uri: url });
  try {
    const [tables] = await conn.query('SHOW TABLES');
    const out: string[] = [];
    for (const row of tables as Record<string, string>[]) {
      const [rows] = await conn.query(`SELECT * FROM \`${Object.values(row)[0]}\``);
      out.push(JSON.stringify(rows));
    }
    return out.join('\n');
  } finally {
    await conn.end();
  }
}

/** A fresh database and data directory per describe block; read the fields inside tests only. */
function useTestDatabase(target: TestDatabaseTarget): { url: string; dataDir: string } {
  const testDb = { url: '', dataDir: '' };
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const created = await target.create();
    testDb.url = created.url;
    cleanup = created.cleanup;
    testDb.dataDir = mkdtempSync(path.join(tmpdir(), 'patchbay-e2e-'));
  });
  afterAll(async () => {
    await cleanup?.();
    rmSync(testDb.dataDir, { recursive: true, force: true });
  });
  return testDb;
}

describe.each(testDatabaseTargets())('patchbay CLI on $dialect', (target) => {
  const testDb = useTestDatabase(target);

  it('adds a tenant and an account stored as HA1s only', async () => {
    const t = await run(['tenant', 'add', 'e2e.example', '--name', 'E2E', '--db', testDb.url, '--json'], baseEnv(testDb.dataDir));
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout)).toMatchObject({ domain: 'e2e.example', name: 'E2E' });

    const a = await run(['account', 'add', '1001@e2e.example', '--password', PASSWORD, '--out-dialplan', 'default', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('1001@e2e.example');

    const db = await openDatabase(testDb.url, { secretKey: Buffer.from(SECRET, 'hex') });
    try {
      const account = await db.accounts.findForAuth('1001', 'e2e.example');
      expect(account?.ha1Md5).toBe(digestHa1('MD5', '1001', 'e2e.example', PASSWORD));
      expect(account?.ha1Sha256).toBe(digestHa1('SHA-256', '1001', 'e2e.example', PASSWORD));
      expect(account?.outDialplan).toBe('default');
    } finally {
      await db.close();
    }
    expect(await dumpAllRows(testDb.url)).not.toContain(PASSWORD);
    if (testDb.url.startsWith('sqlite:')) {
      const file = testDb.url.slice('sqlite:'.length);
      for (const f of [file, `${file}-wal`]) {
        if (existsSync(f)) expect(readFileSync(f).includes(Buffer.from(PASSWORD))).toBe(false);
      }
    }
  });

  it('gives a new tenant the default dialplan, which new accounts use for outgoing calls unless told otherwise', async () => {
    const t = await run(['tenant', 'add', 'dflt.example', '--db', testDb.url, '--json'], baseEnv(testDb.dataDir));
    expect(t.code).toBe(0);
    const tenantId = (JSON.parse(t.stdout) as { id: number }).id;
    expect((await run(['account', 'add', '2001@dflt.example', '--password', PASSWORD, '--db', testDb.url], baseEnv(testDb.dataDir))).code).toBe(0);
    expect((await run(['account', 'add', '2002@dflt.example', '--password', PASSWORD, '--out-dialplan', 'other', '--db', testDb.url], baseEnv(testDb.dataDir))).code).toBe(0);
    const db = await openDatabase(testDb.url, { secretKey: Buffer.from(SECRET, 'hex') });
    try {
      expect(await db.dialplans.getCurrent(tenantId, 'default')).toMatchObject({ language: 'ts', author: 'cli', version: 1 });
      expect((await db.accounts.findForAuth('2001', 'dflt.example'))?.outDialplan).toBe('default');
      expect((await db.accounts.findForAuth('2002', 'dflt.example'))?.outDialplan).toBe('other');
    } finally {
      await db.close();
    }
  });

  it('refuses a duplicate account with exit 1 and changes nothing', async () => {
    const before = await dumpAllRows(testDb.url);
    const r = await run(['account', 'add', '1001@e2e.example', '--password', 'another-one', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('1001@e2e.example already exists');
    expect(await dumpAllRows(testDb.url)).toBe(before);
  });

  it('exits 1 for an unknown tenant', async () => {
    const r = await run(['account', 'add', '1@nowhere.example', '--password', 'long-enough-pw', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown tenant "nowhere.example"');
  });

  it.each([
    [['account', 'add', '1002@e2e.example'], '--password'],
    [['account', 'add', 'no-at-sign', '--password', 'x'], '<user@domain>'],
    [['account', 'add', '1003@e2e.example', '--password', 'short'], '--password'],
    [['account', 'passwd', '1001@e2e.example', '--password', 'short'], '--password'],
    [['tenant', 'add', 'x.example', '--frobnicate'], '--frobnicate'],
    [['user', 'add', 'u@e2e.example', '--tenant', 'e2e.example', '--role', 'king', '--password', 'longenough'], '--role'],
    [['dialplan', 'set', 'e2e.example', 'default', 'plan.py'], '<file>'],
    [['tenant', 'add'], '<domain>'],
  ])('exits 2 naming the bad argument: %j', async (args, named) => {
    const r = await run([...args, '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(named);
  });

  it('tenant set gives a tenant its own park slots and recall time, and default returns to the switch values', async () => {
    const set = await run(['tenant', 'set', 'e2e.example', '--park-slots', '80-82', '--park-recall', '300', '--db', testDb.url, '--json'], baseEnv(testDb.dataDir));
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ domain: 'e2e.example', parkSlots: '80-82', parkRecallSeconds: 300 });
    for (const [args, named] of [[['--park-slots', '82-80'], '--park-slots'], [['--park-slots', '1-200'], '--park-slots'], [['--park-recall', 'soon'], '--park-recall'], [[], 'nothing to set']] as const) {
      const bad = await run(['tenant', 'set', 'e2e.example', ...args, '--db', testDb.url], baseEnv(testDb.dataDir));
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain(named);
    }
    const list = await run(['tenant', 'list', '--db', testDb.url, '--json'], baseEnv(testDb.dataDir));
    expect((JSON.parse(list.stdout) as Array<Record<string, unknown>>).find((t) => t['domain'] === 'e2e.example')).toMatchObject({ parkSlots: '80-82', parkRecallSeconds: 300 });
    const back = await run(['tenant', 'set', 'e2e.example', '--park-slots', 'default', '--park-recall', 'default', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('park slots: the switch default (PATCHBAY_PARK_SLOTS)');
  });

  it('sets account settings with account set and shows them in account list', async () => {
    const add = await run(
      ['account', 'add', '1100@e2e.example', '--password', PASSWORD, '--keepalive-method', 'options', '--allowed-cidr', '192.0.2.0/24', '--json', '--db', testDb.url],
      baseEnv(testDb.dataDir),
    );
    expect(add.stderr).toBe('');
    expect(JSON.parse(add.stdout)).toMatchObject({ username: '1100', natKeepalive: true, keepaliveMethod: 'options', allowedCidrs: ['192.0.2.0/24'] });
    expect(add.stdout).not.toContain('ha1');

    const set = await run(
      [
        'account', 'set', '1100@e2e.example',
        '--nat-keepalive', 'off',
        '--keepalive-method', 'crlf',
        '--allowed-cidr', '10.1.0.0/16',
        '--allowed-cidr', '2001:db8::/48',
        '--caller-id', 'Front Desk',
        '--max-calls', '4',
        '--disabled',
        '--out-dialplan', 'outbound',
        '--in-dialplan', 'inbound',
        '--incoming-only',
        '--dnd', 'on',
        '--db', testDb.url,
      ],
      baseEnv(testDb.dataDir),
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('1100@e2e.example');

    const list = await run(['account', 'list', 'e2e.example', '--json', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(list.code).toBe(0);
    const row = (JSON.parse(list.stdout) as Record<string, unknown>[]).find((a) => a['username'] === '1100');
    expect(row).toEqual(
      expect.objectContaining({
        natKeepalive: false,
        keepaliveMethod: 'crlf',
        allowedCidrs: ['10.1.0.0/16', '2001:db8::/48'],
        callerId: 'Front Desk',
        maxCalls: 4,
        disabled: true,
        outDialplan: 'outbound',
        inDialplan: 'inbound',
        incomingOnly: true,
        dnd: true,
      }),
    );
    expect(row).not.toHaveProperty('ha1Md5');

    // Only what is given changes; "" clears a nullable setting.
    const back = await run(
      ['account', 'set', '1100@e2e.example', '--enabled', '--no-incoming-only', '--nat-keepalive', 'on', '--keepalive-method', 'options', '--caller-id', '', '--dnd', 'off', '--db', testDb.url],
      baseEnv(testDb.dataDir),
    );
    expect(back.code).toBe(0);
    const human = await run(['account', 'list', 'e2e.example', '--db', testDb.url], baseEnv(testDb.dataDir));
    const line = human.stdout.split('\n').find((l) => l.startsWith('1100@e2e.example'));
    expect(line?.split('\t')).toEqual([
      '1100@e2e.example',
      'out=outbound',
      'in=inbound',
      'nat-keepalive=on/options',
      'allowed-cidr=10.1.0.0/16,2001:db8::/48',
      'caller-id=-',
      'max-calls=4',
    ]);

    const db = await openDatabase(testDb.url);
    try {
      expect((await db.accounts.findForAuth('1100', 'e2e.example'))?.keepaliveMethod).toBe('options');
    } finally {
      await db.close();
    }
  });

  it.each([
    [['--allowed-cidr', '10.0.0.0/33'], '--allowed-cidr'],
    [['--allowed-cidr', '192.0.2.0/24', '--allowed-cidr', 'example.com/8'], '--allowed-cidr'],
    [['--keepalive-method', 'stun'], '--keepalive-method'],
    [['--nat-keepalive', 'maybe'], '--nat-keepalive'],
    [['--max-calls', '-1'], '--max-calls'],
    [['--disabled', '--enabled'], '--enabled'],
    [['--out-dialplan', 'no spaces'], '--out-dialplan'],
    [['--caller-id', 'Evil\r\nVia: x'], '--caller-id'],
    [['--dnd', 'maybe'], '--dnd'],
    [[], 'nothing to set'],
  ])('account set exits 2 naming the bad argument and changes nothing: %j', async (extra, named) => {
    const before = await dumpAllRows(testDb.url);
    const r = await run(['account', 'set', '1001@e2e.example', ...extra, '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(named);
    expect(await dumpAllRows(testDb.url)).toBe(before);
  });

  it('account add refuses a bad CIDR with exit 2 and adds nothing', async () => {
    const r = await run(['account', 'add', '1101@e2e.example', '--password', 'long-enough-pw', '--allowed-cidr', '300.1.2.3/8', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--allowed-cidr');
    expect(r.stderr).toContain('300.1.2.3/8');
    const db = await openDatabase(testDb.url);
    try {
      expect(await db.accounts.findForAuth('1101', 'e2e.example')).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('account set exits 1 for an unknown account', async () => {
    const r = await run(['account', 'set', '9999@e2e.example', '--enabled', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('9999@e2e.example');
  });

  it('stops on a bad config value with one line naming the setting', async () => {
    const r = await run(['tenant', 'list'], baseEnv(testDb.dataDir, { PATCHBAY_DB: testDb.url, PATCHBAY_HTTP_LISTEN: 'abc' }));
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('config: PATCHBAY_HTTP_LISTEN: expected host:port, got "abc"');
    const s = await run(['serve'], baseEnv(testDb.dataDir, { PATCHBAY_DB: testDb.url, PATCHBAY_HTTP_LISTEN: 'abc' }));
    expect(s.code).not.toBe(0);
    expect(s.stderr.trim().split('\n')).toHaveLength(1);
    expect(s.stderr).toContain('PATCHBAY_HTTP_LISTEN');
  });

  it('serves /api/v1/health and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: ROOT,
      env: baseEnv(testDb.dataDir, {
        PATCHBAY_DB: testDb.url,
        PATCHBAY_HTTP_LISTEN: '127.0.0.1:0',
        PATCHBAY_SIP_LISTEN: 'udp:127.0.0.1:0',
        PATCHBAY_LOG_LEVEL: 'info',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          for (const line of stdout.split('\n')) {
            if (!line.startsWith('{')) continue;
            const entry = JSON.parse(line) as { transport?: string; port?: number };
            if (entry.transport === 'http' && entry.port) resolve(entry.port);
          }
        });
        child.on('exit', (code) => reject(new Error(`serve exited early with ${code}: ${stdout}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/health`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 'ok', version: expect.any(String), db: target.dialect });
      expect(typeof body['uptimeSec']).toBe('number');

      const bad = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/invalid JSON/);

      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

/** A Kysely handle of its own, to bring a database to an older schema version the way an old release left it. */
function openKysely(url: string): Kysely<unknown> {
  if (url.startsWith('sqlite:')) return new Kysely({ dialect: new SqliteDialect({ database: new (sqliteDriver())(url.slice('sqlite:'.length)) }) });
  return new Kysely({ dialect: new MysqlDialect({ pool: createPool({ uri: url }) }) });
}

describe.each(testDatabaseTargets())('migration 0002 (keep-alive method) on $dialect', (target) => {
  const testDb = useTestDatabase(target);

  it('adds keepalive_method = crlf to accounts of a 0001 database and keeps their data', async () => {
    const old = openKysely(testDb.url);
    try {
      const migrator = new Migrator({ db: old, provider: createMigrationProvider(target.dialect) });
      const { error } = await migrator.migrateTo('0001_initial');
      expect(error).toBeUndefined();
      const k = old as unknown as Kysely<{
        tenants: { id: number; domain: string; name: string; created_at: number };
        sip_accounts: Record<string, string | number | null>;
      }>;
      await k.insertInto('tenants').values({ id: 1, domain: 'old.example', name: 'Old', created_at: 1 }).execute();
      await k
        .insertInto('sip_accounts')
        .values({
          tenant_id: 1,
          username: '7001',
          ha1_md5: digestHa1('MD5', '7001', 'old.example', 'pw'),
          ha1_sha256: digestHa1('SHA-256', '7001', 'old.example', 'pw'),
          incoming_only: 0,
          disabled: 0,
          nat_keepalive: 0,
          allowed_cidrs: '["198.51.100.0/24"]',
          caller_id: 'Old Phone',
          created_at: 1,
          updated_at: 1,
        })
        .execute();
    } finally {
      await old.destroy();
    }

    const m = await run(['migrate', '--json', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(m.stderr).toBe('');
    expect(JSON.parse(m.stdout)).toEqual({ applied: ['0002_account_keepalive_method', '0003_cdr_history', '0004_account_trust_udp_source', '0005_seal_ha1', '0012_tenant_park', '0020_sip_bans', '0030_api_sessions', '0031_two_factor', '0032_tenant_secrets', '0033_dialplan_message_audit_index', '0034_account_owner_display_name', '0035_tenant_retention', '0050_provider_settings', '0051_tenant_call_policies', '0052_dids', '0060_cdr_record_key', '0061_audit_record_key', '0062_tenant_kv_usage', '0070_contacts', '0071_cdr_note', '0075_account_dnd'] });

    const list = await run(['account', 'list', 'old.example', '--json', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        username: '7001',
        natKeepalive: false,
        keepaliveMethod: 'crlf',
        allowedCidrs: ['198.51.100.0/24'],
        callerId: 'Old Phone',
      }),
    ]);

    const set = await run(['account', 'set', '7001@old.example', '--keepalive-method', 'options', '--nat-keepalive', 'on', '--db', testDb.url], baseEnv(testDb.dataDir));
    expect(set.code).toBe(0);
    const db = await openDatabase(testDb.url);
    try {
      expect(await db.migrate()).toEqual([]);
      expect(await db.accounts.findForAuth('7001', 'old.example')).toMatchObject({ keepaliveMethod: 'options', natKeepalive: true });
    } finally {
      await db.close();
    }
  });
});
