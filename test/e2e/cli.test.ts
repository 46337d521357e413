import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestHa1, openDatabase } from '../../db/index.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';

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
    const sqlite = new BetterSqlite3(url.slice('sqlite:'.length), { readonly: true });
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

describe.each(testDatabaseTargets())('patchbay CLI on $dialect', (target) => {
  let url: string;
  let cleanup: () => Promise<void>;
  let dataDir: string;

  beforeAll(async () => {
    const created = await target.create();
    url = created.url;
    cleanup = created.cleanup;
    dataDir = mkdtempSync(path.join(tmpdir(), 'patchbay-e2e-'));
  });
  afterAll(async () => {
    await cleanup?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds a tenant and an account stored as HA1s only', async () => {
    const t = await run(['tenant', 'add', 'e2e.example', '--name', 'E2E', '--db', url, '--json'], baseEnv(dataDir));
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout)).toMatchObject({ domain: 'e2e.example', name: 'E2E' });

    const a = await run(['account', 'add', '1001@e2e.example', '--password', PASSWORD, '--out-dialplan', 'default', '--db', url], baseEnv(dataDir));
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('1001@e2e.example');

    const db = await openDatabase(url);
    try {
      const account = await db.accounts.findForAuth('1001', 'e2e.example');
      expect(account?.ha1Md5).toBe(digestHa1('MD5', '1001', 'e2e.example', PASSWORD));
      expect(account?.ha1Sha256).toBe(digestHa1('SHA-256', '1001', 'e2e.example', PASSWORD));
      expect(account?.outDialplan).toBe('default');
    } finally {
      await db.close();
    }
    expect(await dumpAllRows(url)).not.toContain(PASSWORD);
    if (url.startsWith('sqlite:')) {
      const file = url.slice('sqlite:'.length);
      for (const f of [file, `${file}-wal`]) {
        if (existsSync(f)) expect(readFileSync(f).includes(Buffer.from(PASSWORD))).toBe(false);
      }
    }
  });

  it('refuses a duplicate account with exit 1 and changes nothing', async () => {
    const before = await dumpAllRows(url);
    const r = await run(['account', 'add', '1001@e2e.example', '--password', 'another-one', '--db', url], baseEnv(dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('1001@e2e.example already exists');
    expect(await dumpAllRows(url)).toBe(before);
  });

  it('exits 1 for an unknown tenant', async () => {
    const r = await run(['account', 'add', '1@nowhere.example', '--password', 'x', '--db', url], baseEnv(dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown tenant "nowhere.example"');
  });

  it.each([
    [['account', 'add', '1002@e2e.example'], '--password'],
    [['account', 'add', 'no-at-sign', '--password', 'x'], '<user@domain>'],
    [['tenant', 'add', 'x.example', '--frobnicate'], '--frobnicate'],
    [['user', 'add', 'u@e2e.example', '--tenant', 'e2e.example', '--role', 'king', '--password', 'longenough'], '--role'],
    [['dialplan', 'set', 'e2e.example', 'default', 'plan.py'], '<file>'],
    [['tenant', 'add'], '<domain>'],
  ])('exits 2 naming the bad argument: %j', async (args, named) => {
    const r = await run([...args, '--db', url], baseEnv(dataDir));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(named);
  });

  it('stops on a bad config value with one line naming the setting', async () => {
    const r = await run(['tenant', 'list'], baseEnv(dataDir, { PATCHBAY_DB: url, PATCHBAY_HTTP_LISTEN: 'abc' }));
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('config: PATCHBAY_HTTP_LISTEN: expected host:port, got "abc"');
    const s = await run(['serve'], baseEnv(dataDir, { PATCHBAY_DB: url, PATCHBAY_HTTP_LISTEN: 'abc' }));
    expect(s.code).not.toBe(0);
    expect(s.stderr.trim().split('\n')).toHaveLength(1);
    expect(s.stderr).toContain('PATCHBAY_HTTP_LISTEN');
  });

  it('serves /api/v1/health and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: ROOT,
      env: baseEnv(dataDir, {
        PATCHBAY_DB: url,
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
