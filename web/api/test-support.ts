import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { openDatabase, type Database, type WebRole } from '../../db/index.ts';
import type { TestDatabaseTarget } from '../../db/test-databases.ts';
import { createApi, type ApiApp } from './app.ts';
import type { ApiDeps } from './deps.ts';

/** One API over a fresh database on a real socket (127.0.0.1, ephemeral port), for route tests. */
export interface ApiHarness {
  db: Database;
  /** The database URL (for a second raw connection in tests). */
  url: string;
  base: string;
  api: ApiApp;
  /** Structured log lines the API wrote. */
  logs: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
  close(): Promise<void>;
  /** A request with JSON body and the given credentials. */
  call(method: string, path: string, opts?: { auth?: Credentials; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** A user plus a live browser session for it (no password round trip). */
  userWithSession(role: WebRole, tenantId: number | null, email?: string): Promise<{ userId: number; session: Credentials; email: string }>;
}

export type Credentials = { cookie: string; csrf: string | null } | { bearer: string };

/** scrypt at a test cost: the OWASP cost (128 MiB, ~0.3 s a hash) would make these files crawl. */
export const TEST_SCRYPT = { N: 2 ** 12, r: 8, p: 1, keyLen: 32 };

export async function startApiHarness(target: TestDatabaseTarget, depsOf: Partial<ApiDeps> | ((db: Database) => Partial<ApiDeps>) = {}): Promise<ApiHarness> {
  const created = await target.create();
  const db = await openDatabase(created.url, { secretKey: randomBytes(32), webPasswordScrypt: TEST_SCRYPT });
  await db.migrate();
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const events: Array<Record<string, unknown>> = [];
  const deps = typeof depsOf === 'function' ? depsOf(db) : depsOf;
  const api = createApi({ db, version: 'test', logger, events: { emit: (e) => events.push({ ...e }) }, compileDialplan: undefined, ...deps } as ApiDeps);
  const server: Server = createServer(api.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  let n = 0;
  const h: ApiHarness = {
    db,
    url: created.url,
    base,
    api,
    logs,
    events,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
      await created.cleanup();
    },
    call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const a = opts.auth;
      if (a && 'bearer' in a) headers['authorization'] = `Bearer ${a.bearer}`;
      if (a && 'cookie' in a) {
        headers['cookie'] = `pb_session=${a.cookie}`;
        if (a.csrf !== null) headers['x-csrf-token'] = a.csrf;
      }
      return fetch(base + path, { method, headers, ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }) });
    },
    async userWithSession(role, tenantId, email) {
      const e = email ?? `${role}-${++n}-${randomBytes(3).toString('hex')}@users.test`;
      const u = await db.users.add({ email: e, password: 'a-long-password', role, tenantId });
      const s = await db.sessions.create({ userId: u.id, maxAgeMs: 3600_000 });
      return { userId: u.id, email: e, session: { cookie: s.token, csrf: s.csrfToken } };
    },
  };
  return h;
}
