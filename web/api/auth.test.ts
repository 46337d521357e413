import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashWebPassword } from '../../db/index.ts';
import { createKysely } from '../../db/open-database.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, TEST_SCRYPT, type ApiHarness } from './test-support.ts';
import { LoginBrake } from './login-brake.ts';

const login = (h: ApiHarness, body: unknown, headers: Record<string, string> = {}) => h.call('POST', '/auth/login', { body, headers });
const cookieOf = (res: Response): string => /pb_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';

describe.each(testDatabaseTargets())('auth on $dialect', (target) => {
  let h: ApiHarness;
  let tenantId: number;
  let brakeNow = 1_000_000;

  beforeAll(async () => {
    h = await startApiHarness(target, { loginBrake: new LoginBrake({ maxFailuresPerEmail: 3, maxFailuresPerAddress: 50, now: () => brakeNow }) });
    tenantId = (await h.db.tenants.add({ domain: 'auth.test' })).id;
    await h.db.users.add({ email: 'admin@auth.test', password: 'admin-password', role: 'admin', tenantId });
  });
  afterAll(async () => h?.close());

  it('answers health, bad JSON, bad fields and wrong content type with the contract shapes', async () => {
    const health = await h.call('GET', '/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', version: 'test', db: target.dialect });
    const bad = await h.call('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: undefined });
    expect(bad.status).toBe(400);
    const badJson = await fetch(`${h.base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: expect.stringMatching(/^invalid JSON/) });
    const field = await login(h, { email: 'admin@auth.test', password: 42 });
    expect(field.status).toBe(400);
    expect(await field.json()).toMatchObject({ field: 'password' });
    const type = await fetch(`${h.base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=x' });
    expect(type.status).toBe(415);
    const missing = await h.call('GET', '/nothing-here');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: expect.any(String) });
  });

  it('logs in with a server-side session cookie and refuses a cookie mutation without the CSRF token', async () => {
    const res = await login(h, { email: 'ADMIN@auth.test', password: 'admin-password' }, { 'user-agent': 'vitest-browser' });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/pb_session=/);
    expect(setCookie).toMatch(/httponly/i);
    expect(setCookie).toMatch(/samesite=strict/i);
    expect(setCookie).toMatch(/path=\//i);
    expect(setCookie).not.toMatch(/secure/i); // plain HTTP here
    const body = (await res.json()) as { user: { email: string; role: string; tenantId: number }; csrfToken: string };
    expect(body.user).toMatchObject({ email: 'admin@auth.test', role: 'admin', tenantId });
    const cookie = cookieOf(res);

    const session = await h.call('GET', '/auth/session', { auth: { cookie, csrf: null } });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ user: { email: 'admin@auth.test' }, csrfToken: body.csrfToken });

    // A mutation with the cookie but without (or with a wrong) X-CSRF-Token is refused and changes nothing.
    const noCsrf = await h.call('PUT', '/kv/color', { auth: { cookie, csrf: null }, body: { value: 'blue' } });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.json()).toMatchObject({ field: 'X-CSRF-Token' });
    const wrongCsrf = await h.call('PUT', '/kv/color', { auth: { cookie, csrf: 'x'.repeat(body.csrfToken.length) }, body: { value: 'blue' } });
    expect(wrongCsrf.status).toBe(403);
    expect(await h.db.kv.read(tenantId, 'color')).toBeUndefined();
    const ok = await h.call('PUT', '/kv/color', { auth: { cookie, csrf: body.csrfToken }, body: { value: 'blue' } });
    expect(ok.status).toBe(200);
    expect(await h.db.kv.read(tenantId, 'color')).toBe('blue');

    // My sessions: this one is listed as current; logout ends it server-side.
    const list = (await (await h.call('GET', '/auth/sessions', { auth: { cookie, csrf: null } })).json()) as { items: Array<{ id: number; current: boolean; userAgent: string | null }> };
    const current = list.items.find((s) => s.current)!;
    expect(current.userAgent).toBe('vitest-browser');
    const logoutNoCsrf = await h.call('POST', '/auth/logout', { auth: { cookie, csrf: null } });
    expect(logoutNoCsrf.status).toBe(403);
    // Signing in again while the cookie is still set needs no CSRF token and gives a new session.
    const again = await h.call('POST', '/auth/login', { auth: { cookie, csrf: null }, body: { email: 'admin@auth.test', password: 'admin-password' } });
    expect(again.status).toBe(200);
    expect(cookieOf(again)).not.toBe(cookie);
    const logout = await h.call('POST', '/auth/logout', { auth: { cookie, csrf: body.csrfToken } });
    expect(logout.status).toBe(204);
    expect((await h.call('GET', '/auth/session', { auth: { cookie, csrf: null } })).status).toBe(401);
  });

  it('lists and revokes my sessions, not anyone else\'s', async () => {
    const a = await h.userWithSession('admin', tenantId);
    const b = await h.userWithSession('admin', tenantId);
    const bSessions = await h.db.sessions.listForUser(b.userId);
    const other = await h.call('DELETE', `/auth/sessions/${bSessions[0]!.id}`, { auth: a.session });
    expect(other.status).toBe(404);
    expect((await h.call('GET', '/auth/session', { auth: b.session })).status).toBe(200);
    const second = await h.db.sessions.create({ userId: a.userId, maxAgeMs: 60_000 });
    const list = (await (await h.call('GET', '/auth/sessions', { auth: a.session })).json()) as { items: Array<{ id: number }> };
    expect(list.items.map((s) => s.id)).toContain(second.id);
    expect((await h.call('DELETE', `/auth/sessions/${second.id}`, { auth: a.session })).status).toBe(204);
    expect((await h.call('GET', '/auth/session', { auth: { cookie: second.token, csrf: null } })).status).toBe(401);
    expect((await h.db.audit.list({ action: 'auth.session.revoke' })).length).toBeGreaterThan(0);
  });

  it('ends sessions past their expiry or idle timeout', async () => {
    const u = await h.userWithSession('admin', tenantId);
    const expired = await h.db.sessions.create({ userId: u.userId, maxAgeMs: -1 });
    expect((await h.call('GET', '/auth/session', { auth: { cookie: expired.token, csrf: null } })).status).toBe(401);
    // Idle: a session last seen longer ago than the idle timeout (30 min default) is dead.
    const idle = await h.db.sessions.create({ userId: u.userId, maxAgeMs: 3600_000 });
    expect(await h.db.sessions.verify(idle.token, 60_000)).toBeDefined();
    expect(await h.db.sessions.verify(idle.token, -1)).toBeUndefined();
    expect(await h.db.sessions.verify(idle.token, 60_000)).toBeUndefined(); // deleted on sight
  });

  it('accepts bearer tokens within their scopes and expiry, without CSRF', async () => {
    const u = await h.userWithSession('admin', tenantId);
    const readOnly = await h.db.tokens.create({ userId: u.userId, name: 'ro', scopes: ['read'] });
    const writer = await h.db.tokens.create({ userId: u.userId, name: 'rw', scopes: ['read', 'write'] });
    const expired = await h.db.tokens.create({ userId: u.userId, name: 'old', expiresAt: Date.now() - 1000 });
    expect((await h.call('GET', '/kv', { auth: { bearer: readOnly.token } })).status).toBe(200);
    const denied = await h.call('PUT', '/kv/k1', { auth: { bearer: readOnly.token }, body: { value: 'v' } });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toMatch(/write scope/);
    expect((await h.call('PUT', '/kv/k1', { auth: { bearer: writer.token }, body: { value: 'v' } })).status).toBe(200);
    expect((await h.call('GET', '/kv', { auth: { bearer: expired.token } })).status).toBe(401);
    expect((await h.call('GET', '/kv', { auth: { bearer: 'pb_nonsense' } })).status).toBe(401);
    // Control of live calls needs the calls scope even for a receptionist.
    const rec = await h.userWithSession('receptionist', tenantId);
    const noCalls = await h.db.tokens.create({ userId: rec.userId, name: 'nc', scopes: ['read', 'write'] });
    expect((await h.call('POST', '/calls/x/hangup', { auth: { bearer: noCalls.token } })).status).toBe(403);
  });

  it('creates tokens shown once, lists them without the secret, and revokes them', async () => {
    const u = await h.userWithSession('member', tenantId);
    const created = await h.call('POST', '/tokens', { auth: u.session, body: { name: 'script', scopes: ['read'] } });
    expect(created.status).toBe(201);
    const { token, tokenInfo } = (await created.json()) as { token: string; tokenInfo: { id: number; scopes: string[]; expiresAt: number } };
    expect(token).toMatch(/^pb_/);
    expect(tokenInfo.scopes).toEqual(['read']);
    expect(tokenInfo.expiresAt).toBeGreaterThan(Date.now());
    expect((await h.call('GET', '/auth/session', { auth: { bearer: token } })).status).toBe(200);
    const list = await (await h.call('GET', '/tokens', { auth: u.session })).text();
    expect(list).toContain('"script"');
    expect(list).toContain('lastUsedAt');
    expect(list).not.toContain(token);
    // A read token cannot mint a write token.
    const escalate = await h.call('POST', '/tokens', { auth: { bearer: token }, body: { name: 'more', scopes: ['write'] } });
    expect(escalate.status).toBe(403);
    const past = await h.call('POST', '/tokens', { auth: u.session, body: { name: 'x', scopes: ['read'], expiresAt: Date.now() - 1000 } });
    expect(await past.json()).toMatchObject({ field: 'expiresAt' });
    const badScope = await h.call('POST', '/tokens', { auth: u.session, body: { name: 'x', scopes: ['admin'] } });
    expect(badScope.status).toBe(400);
    expect(await badScope.json()).toMatchObject({ field: 'scopes.0' });
    const other = await h.userWithSession('member', tenantId);
    expect((await h.call('DELETE', `/tokens/${tokenInfo.id}`, { auth: other.session })).status).toBe(404);
    expect((await h.call('DELETE', `/tokens/${tokenInfo.id}`, { auth: u.session })).status).toBe(204);
    expect((await h.call('GET', '/auth/session', { auth: { bearer: token } })).status).toBe(401);
  });

  it('brakes repeated failed logins with 429 and an auth.failed log line, per e-mail', async () => {
    await h.db.users.add({ email: 'victim@auth.test', password: 'victim-password', role: 'member', tenantId });
    for (let i = 0; i < 3; i++) expect((await login(h, { email: 'victim@auth.test', password: `wrong-${i}` })).status).toBe(401);
    const locked = await login(h, { email: 'victim@auth.test', password: 'victim-password' });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.json()).toMatchObject({ error: expect.stringMatching(/too many failed sign-ins/) });
    const lines = h.logs.filter((l) => l['event'] === 'auth.failed' && l['email'] === 'victim@auth.test');
    expect(lines.map((l) => l['reason'])).toEqual(['password', 'password', 'password', 'locked-email']);
    expect(lines[0]).toMatchObject({ sourceAddress: expect.stringMatching(/127\.0\.0\.1/) });
    // Unknown e-mails count too, and answer like a wrong password.
    const unknown = await login(h, { email: 'nobody@auth.test', password: 'whatever' });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toEqual({ error: 'wrong e-mail or password' });
    brakeNow += 16 * 60_000; // past the lock
    expect((await login(h, { email: 'victim@auth.test', password: 'victim-password' })).status).toBe(200);
  });

  it('verifies an old-parameter scrypt hash and rehashes it with today\'s on login', async () => {
    const u = await h.db.users.add({ email: 'legacy@auth.test', password: 'legacy-password', role: 'member', tenantId });
    // A hash as the previous release wrote it (N=2^14).
    const { scrypt, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const key = await new Promise<Buffer>((resolve, reject) => scrypt('legacy-password', salt, 32, { N: 16384, r: 8, p: 1 }, (e, k) => (e ? reject(e) : resolve(k))));
    const legacy = `scrypt$16384$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    await setHash(h, u.id, legacy);
    expect((await login(h, { email: 'legacy@auth.test', password: 'legacy-password' })).status).toBe(200);
    const now = await getHash(h, u.id);
    expect(now).not.toBe(legacy);
    expect(now).toMatch(new RegExp(`^scrypt\\$${TEST_SCRYPT.N}\\$8\\$1\\$`)); // the configured cost
    expect((await login(h, { email: 'legacy@auth.test', password: 'legacy-password' })).status).toBe(200);
    // The default (what the switch runs with) is OWASP's N=2^17, r=8, p=1.
    const real = await hashWebPassword('x');
    expect(real).toMatch(/^scrypt\$131072\$8\$1\$/);
    const { verifyWebPassword } = await import('../../db/secrets.ts');
    expect(await verifyWebPassword('x', real)).toBe(true);
    expect(await verifyWebPassword('y', real)).toBe(false);
  });
});

async function setHash(h: ApiHarness, id: number, hash: string): Promise<void> {
  const k = createKysely(h.url, h.db.dialect);
  try {
    await k.updateTable('users').set({ password_hash: hash }).where('id', '=', id).execute();
  } finally {
    await k.destroy();
  }
}
async function getHash(h: ApiHarness, id: number): Promise<string> {
  const k = createKysely(h.url, h.db.dialect);
  try {
    return (await k.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow()).password_hash;
  } finally {
    await k.destroy();
  }
}
