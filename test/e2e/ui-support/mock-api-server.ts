/**
 * TEST-ONLY stand-in for web/http-server.ts + web/api, written to the web contract in
 * helper-brief.md, so the browser app's pages can be proven before the real API routes land.
 * It serves web/ui/dist (SPA fallback, the CSP the real server must send) and keeps tenants'
 * data in memory. Dialplan saves go through the sandbox's real compileDialplan, so the 422
 * errors are esbuild's. Never shipped; the lead switches the UI tests to the real server later.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { compileDialplan } from '../../../sandbox/index.ts';
import { UI_CONTENT_SECURITY_POLICY, uiCacheControl } from '../../../web/ui/content-security-policy.ts';

export type Role = 'operator' | 'admin' | 'receptionist' | 'member';

export interface MockUser {
  id: number;
  email: string;
  password: string;
  role: Role;
  tenantId: number | null;
  /** When set, login needs `totp` equal to this (or a recovery code). */
  totp?: string;
  recoveryCodes?: string[];
}

interface Version {
  version: number;
  language: 'ts' | 'js';
  source: string;
  author: string | null;
  message: string | null;
  createdAt: string;
}

interface MockAccount {
  id: number;
  tenantId: number;
  username: string;
  domain: string;
  displayName: string | null;
  maxCalls: number | null;
  outDialplan: string | null;
  inDialplan: string | null;
  password: string;
}

export interface MockBinding {
  id: number;
  contact: string;
  sourceAddress: string;
  transport: string;
  userAgent: string | null;
  expiresAt: string;
}

export interface MockCdr {
  id: number;
  tenantId: number;
  callId: string;
  caller: string;
  callee: string;
  direction: 'in' | 'out';
  status: string;
  startedAt: string;
  durationSec: number;
  hangupCause: string | null;
}


const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

/** Tenant 1 is `example.com`, tenant 2 `other.example` (for the cross-tenant checks). */
const DOMAINS: Record<number, string> = { 1: 'example.com', 2: 'other.example' };

export class MockApiServer {
  readonly users: MockUser[] = [];
  /** Every request the server saw, for assertions on what the page asked; `csrf`: it carried the session's own token. */
  readonly requests: { method: string; path: string; csrf: boolean }[] = [];
  private readonly sessions = new Map<string, { user: MockUser; csrf: string }>();
  private readonly dialplans = new Map<string, Version[]>();
  private readonly accounts = new Map<number, MockAccount>();
  private readonly bindings = new Map<number, MockBinding[]>();
  private readonly cdrs: MockCdr[] = [];
  private nextId = 100;
  /** Small on purpose, so the app must follow `nextCursor` to see whole lists. */
  pageSize = 2;
  private server: Server | null = null;
  url = '';

  constructor(private readonly distDir: string) {}

  addUser(user: Omit<MockUser, 'id'>): MockUser {
    const full = { ...user, id: this.nextId++ };
    this.users.push(full);
    return full;
  }

  /** Path (without query) → the HTTP status its next request fails with. */
  readonly failNext = new Map<string, number>();

  /** Ends every session server-side (as an idle timeout or a revoke elsewhere would). */
  expireSessions(): void {
    this.sessions.clear();
  }

  async seedDialplan(tenantId: number, name: string, source: string, message: string | null = null, language: 'ts' | 'js' = 'ts'): Promise<void> {
    const compiled = await compileDialplan(source, language);
    if (!compiled.ok) throw new Error(`seed dialplan ${name} does not compile: ${JSON.stringify(compiled.errors)}`);
    this.addVersion(tenantId, name, language, source, 'seed@example.com', message);
  }

  seedAccount(tenantId: number, username: string, extra: Partial<MockAccount> = {}): MockAccount {
    const account: MockAccount = { id: this.nextId++, tenantId, username, domain: DOMAINS[tenantId] ?? 'example.com', displayName: null, maxCalls: null, outDialplan: null, inDialplan: null, password: 'secret-password', ...extra };
    this.accounts.set(account.id, account);
    this.bindings.set(account.id, []);
    return account;
  }

  seedBinding(accountId: number, binding: Omit<MockBinding, 'id'>): MockBinding {
    const full = { ...binding, id: this.nextId++ };
    this.bindings.get(accountId)?.push(full);
    return full;
  }

  seedCdr(cdr: Omit<MockCdr, 'id'>): void {
    this.cdrs.push({ ...cdr, id: this.nextId++ });
  }

  dialplanVersions(tenantId: number, name: string): Version[] | undefined {
    return this.dialplans.get(`${tenantId}/${name}`);
  }

  accountsOf(tenantId: number): MockAccount[] {
    return [...this.accounts.values()].filter((a) => a.tenantId === tenantId);
  }

  bindingsOf(accountId: number): MockBinding[] {
    return this.bindings.get(accountId) ?? [];
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.json(res, 500, { error: String(error) });
        else res.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private addVersion(tenantId: number, name: string, language: 'ts' | 'js', source: string, author: string | null, message: string | null): Version {
    const key = `${tenantId}/${name}`;
    const versions = this.dialplans.get(key) ?? [];
    const version: Version = { version: (versions.at(-1)?.version ?? 0) + 1, language, source, author, message, createdAt: new Date(Date.now() + versions.length).toISOString() };
    versions.push(version);
    this.dialplans.set(key, versions);
    return version;
  }

  private json(res: ServerResponse, status: number, body?: unknown): void {
    res.statusCode = status;
    if (body === undefined) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/api/')) {
      const failure = this.failNext.get(url.pathname);
      if (failure !== undefined) {
        this.failNext.delete(url.pathname);
        this.json(res, failure, { error: 'the database is not answering' });
        return;
      }
      const token = req.headers['x-csrf-token'];
      const session = this.session(req);
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, csrf: session !== null && token === session.csrf });
      try {
        await this.api(req, res, url);
      } catch (error) {
        if (error instanceof HttpError) this.json(res, error.status, { error: error.message, ...(error.field && { field: error.field }), ...error.extra });
        else throw error;
      }
      return;
    }
    await this.serveStatic(url.pathname, res);
  }

  private async serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    const relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
    let file = join(this.distDir, relative);
    if (!file.startsWith(this.distDir + sep) && file !== this.distDir) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const info = await stat(file).catch(() => null);
    const isAsset = info?.isFile() === true;
    if (!isAsset) {
      if (relative.startsWith('assets/')) {
        res.statusCode = 404;
        res.end();
        return;
      }
      file = join(this.distDir, 'index.html'); // SPA fallback
    }
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Content-Security-Policy', UI_CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', isAsset ? uiCacheControl(relative) : 'no-cache');
    res.end(await readFile(file));
  }

  private session(req: IncomingMessage): { sid: string; user: MockUser; csrf: string } | null {
    const cookie = req.headers.cookie ?? '';
    const sid = /(?:^|;\s*)pb_session=([^;]+)/.exec(cookie)?.[1];
    const found = sid ? this.sessions.get(sid) : undefined;
    return sid && found ? { sid, ...found } : null;
  }

  private async body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (chunks.length === 0) return {};
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new HttpError(400, 'body must be a JSON object');
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));

    if (method === 'POST' && path === '/auth/login') {
      const body = await this.body(req);
      const user = this.users.find((u) => u.email === body.email && u.password === body.password);
      if (!user) throw new HttpError(401, 'wrong e-mail or password');
      if (user.totp) {
        const recovery = typeof body.recoveryCode === 'string' ? body.recoveryCode : undefined;
        const okRecovery = recovery !== undefined && (user.recoveryCodes ?? []).includes(recovery);
        if (body.totp === undefined && recovery === undefined) throw new HttpError(401, 'two-factor code required', undefined, { twoFactorRequired: true });
        if (!okRecovery && body.totp !== user.totp) throw new HttpError(401, 'wrong two-factor code', undefined, { twoFactorRequired: true });
        if (okRecovery) user.recoveryCodes = (user.recoveryCodes ?? []).filter((c) => c !== recovery);
      }
      const sid = randomBytes(18).toString('base64url');
      const csrf = randomBytes(18).toString('base64url');
      this.sessions.set(sid, { user, csrf });
      res.setHeader('Set-Cookie', `pb_session=${sid}; HttpOnly; SameSite=Strict; Path=/`);
      this.json(res, 200, { user: this.publicUser(user), csrfToken: csrf });
      return;
    }

    const session = this.session(req);
    if (method === 'GET' && path === '/auth/session') {
      if (!session) throw new HttpError(401, 'not signed in');
      this.json(res, 200, { user: this.publicUser(session.user), csrfToken: session.csrf });
      return;
    }
    if (!session) throw new HttpError(401, 'not signed in');
    if (method !== 'GET' && req.headers['x-csrf-token'] !== session.csrf) throw new HttpError(403, 'missing or wrong X-CSRF-Token');

    if (method === 'POST' && path === '/auth/logout') {
      this.sessions.delete(session.sid);
      res.setHeader('Set-Cookie', 'pb_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
      this.json(res, 204);
      return;
    }

    const user = session.user;
    const tenantId = user.tenantId ?? 1;
    if (parts[0] === 'dialplans') {
      if (user.role === 'receptionist') throw new HttpError(403, 'receptionists cannot use dialplans');
      await this.dialplanRoutes(req, res, method, parts.slice(1), url, tenantId, user);
      return;
    }
    if (parts[0] === 'accounts') {
      if (user.role === 'receptionist') throw new HttpError(403, 'receptionists cannot use accounts');
      await this.accountRoutes(req, res, method, parts.slice(1), url, tenantId);
      return;
    }
    if (parts[0] === 'cdrs' && method === 'GET') {
      const q = url.searchParams;
      const rows = this.cdrs.filter(
        (c) =>
          c.tenantId === tenantId &&
          (!q.get('direction') || c.direction === q.get('direction')) &&
          (!q.get('status') || c.status === q.get('status')) &&
          (!q.get('q') || `${c.caller} ${c.callee} ${c.callId}`.includes(q.get('q')!)),
      );
      const items = rows.map(({ tenantId: _t, ...rest }) => rest);
      if (parts[1] === 'export') {
        const format = q.get('format');
        if (format !== 'csv' && format !== 'json') throw new HttpError(400, 'format: csv or json', 'format');
        res.setHeader('Content-Disposition', `attachment; filename="cdrs.${format}"`);
        res.setHeader('Content-Type', format === 'csv' ? 'text/csv' : 'application/json');
        res.end(format === 'json' ? JSON.stringify(items) : ['id,caller,callee,direction,status', ...items.map((c) => [c.id, c.caller, c.callee, c.direction, c.status].join(','))].join('\n'));
        return;
      }
      this.json(res, 200, this.paginate(items, url));
      return;
    }
    throw new HttpError(404, `no route ${method} ${url.pathname}`);
  }

  /** `{items, nextCursor}` with `?limit=` (1–100) and an opaque offset cursor. */
  private paginate<T>(items: T[], url: URL): { items: T[]; nextCursor: string | null } {
    const limitText = url.searchParams.get('limit');
    const limit = limitText === null ? this.pageSize : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new HttpError(400, 'limit: 1 to 100', 'limit');
    const cursor = url.searchParams.get('cursor');
    const offset = cursor === null ? 0 : Number(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'cursor: not a cursor of this list', 'cursor');
    const end = offset + limit;
    return { items: items.slice(offset, end), nextCursor: end < items.length ? Buffer.from(String(end)).toString('base64url') : null };
  }

  private publicUser(user: MockUser): { id: number; email: string; role: Role; tenantId: number | null } {
    return { id: user.id, email: user.email, role: user.role, tenantId: user.tenantId };
  }

  private dialplanBody(name: string, v: Version): Record<string, unknown> {
    return { name, language: v.language, source: v.source, version: v.version, updatedAt: v.createdAt, author: v.author, message: v.message };
  }

  private async dialplanRoutes(req: IncomingMessage, res: ServerResponse, method: string, parts: string[], url: URL, tenantId: number, user: MockUser): Promise<void> {
    if (parts.length === 0 && method === 'GET') {
      const items = [...this.dialplans.entries()]
        .filter(([key]) => key.startsWith(`${tenantId}/`))
        .map(([key, versions]) => {
          const last = versions.at(-1)!;
          return { name: key.slice(key.indexOf('/') + 1), language: last.language, version: last.version, updatedAt: last.createdAt };
        });
      this.json(res, 200, this.paginate(items, url));
      return;
    }
    const name = parts[0]!;
    const versions = this.dialplanVersions(tenantId, name);
    if (parts.length === 1 && method === 'PUT') {
      const body = await this.body(req);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new HttpError(400, `name: not a valid dialplan name: "${name}"`, 'name');
      if (body.language !== 'ts' && body.language !== 'js') throw new HttpError(400, "language: expected 'ts' or 'js'", 'language');
      if (typeof body.source !== 'string') throw new HttpError(400, 'source: expected a string', 'source');
      if (body.message !== undefined && typeof body.message !== 'string') throw new HttpError(400, 'message: expected a string', 'message');
      const compiled = await compileDialplan(body.source, body.language);
      if (!compiled.ok) throw new HttpError(422, 'the dialplan does not compile', undefined, { errors: compiled.errors });
      const v = this.addVersion(tenantId, name, body.language, body.source, user.email, (body.message as string | undefined) ?? null);
      this.json(res, 200, { dialplan: this.dialplanBody(name, v) });
      return;
    }
    if (!versions) throw new HttpError(404, `no dialplan ${name}`);
    const last = versions.at(-1)!;
    if (parts.length === 1 && method === 'GET') return this.json(res, 200, { dialplan: this.dialplanBody(name, last) });
    if (parts.length === 1 && method === 'DELETE') {
      this.dialplans.delete(`${tenantId}/${name}`);
      return this.json(res, 204);
    }
    if (parts[1] === 'versions' && parts.length === 2 && method === 'GET') {
      return this.json(res, 200, this.paginate([...versions].reverse().map(({ version, author, createdAt, message }) => ({ version, author, createdAt, message })), url));
    }
    if (parts[1] === 'versions' && parts.length === 3 && method === 'GET') {
      const v = versions.find((x) => String(x.version) === parts[2]);
      if (!v) throw new HttpError(404, `no version ${parts[2]}`);
      return this.json(res, 200, { dialplan: this.dialplanBody(name, v) });
    }
    if (parts[1] === 'rollback' && parts.length === 2 && method === 'POST') {
      const body = await this.body(req);
      const v = versions.find((x) => x.version === body.version);
      if (!v) throw new HttpError(typeof body.version === 'number' ? 404 : 400, 'version: no such version', 'version');
      const added = this.addVersion(tenantId, name, v.language, v.source, user.email, `Rollback to v${v.version}`);
      return this.json(res, 200, { dialplan: this.dialplanBody(name, added) });
    }
    if (parts[1] === 'diff' && method === 'GET') {
      const from = versions.find((x) => String(x.version) === url.searchParams.get('from'));
      const to = versions.find((x) => String(x.version) === url.searchParams.get('to'));
      if (!from || !to) throw new HttpError(400, 'from/to: unknown version', from ? 'to' : 'from');
      return this.json(res, 200, { diff: `--- v${from.version}\n+++ v${to.version}\n` });
    }
    throw new HttpError(404, `no route ${method}`);
  }

  private publicAccount(a: MockAccount): Record<string, unknown> {
    const { password: _p, tenantId: _t, ...rest } = a;
    return rest;
  }

  private async accountRoutes(req: IncomingMessage, res: ServerResponse, method: string, parts: string[], url: URL, tenantId: number): Promise<void> {
    if (parts.length === 0 && method === 'GET') return this.json(res, 200, this.paginate(this.accountsOf(tenantId).map((a) => this.publicAccount(a)), url));
    if (parts.length === 0 && method === 'POST') {
      const body = await this.body(req);
      if (typeof body.username !== 'string' || !/^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,128}$/.test(body.username)) throw new HttpError(400, 'username: not a valid SIP user name', 'username');
      if (typeof body.password !== 'string' || body.password.length < 8) throw new HttpError(400, 'password: at least 8 characters', 'password');
      if (this.accountsOf(tenantId).some((a) => a.username === body.username)) throw new HttpError(409, `account ${body.username} exists`, 'username');
      const account = this.seedAccount(tenantId, body.username, { password: body.password, displayName: typeof body.displayName === 'string' ? body.displayName : null });
      return this.json(res, 201, { account: this.publicAccount(account) });
    }
    const account = this.accounts.get(Number(parts[0]));
    if (!account || account.tenantId !== tenantId) throw new HttpError(404, `no account ${parts[0]}`);
    if (parts.length === 1 && method === 'GET') return this.json(res, 200, { account: this.publicAccount(account) });
    if (parts.length === 1 && method === 'PATCH') {
      const body = await this.body(req);
      if (body.password !== undefined && (typeof body.password !== 'string' || body.password.length < 8)) throw new HttpError(400, 'password: at least 8 characters', 'password');
      if (body.maxCalls !== undefined && body.maxCalls !== null && (typeof body.maxCalls !== 'number' || !Number.isInteger(body.maxCalls) || body.maxCalls < 0)) throw new HttpError(400, 'maxCalls: a whole number', 'maxCalls');
      for (const field of ['outDialplan', 'inDialplan'] as const) {
        const value = body[field];
        if (value !== undefined && value !== null && (typeof value !== 'string' || !this.dialplanVersions(tenantId, value))) throw new HttpError(400, `${field}: no dialplan "${String(value)}"`, field);
        if (value !== undefined) account[field] = value as string | null;
      }
      if (body.displayName !== undefined) account.displayName = (body.displayName as string | null) ?? null;
      if (body.maxCalls !== undefined) account.maxCalls = body.maxCalls as number | null;
      if (typeof body.password === 'string') account.password = body.password;
      return this.json(res, 200, { account: this.publicAccount(account) });
    }
    if (parts.length === 1 && method === 'DELETE') {
      this.accounts.delete(account.id);
      return this.json(res, 204);
    }
    if (parts[1] === 'bindings' && parts.length === 2 && method === 'GET') return this.json(res, 200, this.paginate(this.bindingsOf(account.id), url));
    if (parts[1] === 'bindings' && parts.length === 3 && method === 'DELETE') {
      const list = this.bindingsOf(account.id);
      const index = list.findIndex((b) => String(b.id) === parts[2]);
      if (index < 0) throw new HttpError(404, `no binding ${parts[2]}`);
      list.splice(index, 1);
      return this.json(res, 204);
    }
    throw new HttpError(404, `no route ${method}`);
  }
}
