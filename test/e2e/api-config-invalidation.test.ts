import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, startSwitch, type Switch } from './calls-support.ts';

/**
 * Admin writes through the REST API reach the running switch's caches at once (config.changed on
 * the event bus), not after the directory's 30 s or the dialplan store's 2 s refresh.
 */
describe('API writes invalidate the switch caches', () => {
  let sw: Switch;
  let api: (method: string, path: string, body?: unknown) => Promise<Response>;

  beforeAll(async () => {
    sw = await startSwitch(['1001']);
    const db = sw.running.db;
    const user = await db.users.add({ email: 'admin@acme.test', password: 'admin-password', role: 'admin', tenantId: sw.tenantId });
    const { token } = await db.tokens.create({ userId: user.id, name: 'e2e' });
    const { host, port } = sw.running.httpAddress;
    api = (method, path, body) =>
      fetch(`http://${host}:${port}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
  });
  afterAll(async () => sw?.close());

  it('an account change is served by the directory right after the PATCH', async () => {
    const dir = sw.running.sip.directory;
    expect((await dir.findAccount('1001', DOMAIN))?.disabled).toBe(false);
    const list = (await (await api('GET', '/accounts?username=1001')).json()) as { items: Array<{ id: number }> };
    const res = await api('PATCH', `/accounts/${list.items[0]!.id}`, { disabled: true, maxCalls: 3 });
    expect(res.status).toBe(200);
    const seen = await dir.findAccount('1001', DOMAIN);
    expect(seen).toMatchObject({ disabled: true, maxCalls: 3 });
    expect(sw.events.some((e) => e.type === 'config.changed' && e['kind'] === 'account')).toBe(true);
  });

  it('a new account is found at once even after a miss was remembered', async () => {
    const dir = sw.running.sip.directory;
    expect(await dir.findAccount('1009', DOMAIN)).toBeUndefined(); // now negatively cached
    expect((await api('POST', '/accounts', { username: '1009', password: 'long-enough' })).status).toBe(201);
    expect((await dir.findAccount('1009', DOMAIN))?.username).toBe('1009');
  });
});
