import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSipp } from './harness/index.ts';
import { DOMAIN, SCENARIOS, expectSippOk, freeUdpPort, startSipp, startSwitch, type Switch } from './calls-support.ts';

/** One sipp REGISTER with digest for `user`; its exit code (0: registered). */
async function sippRegister(target: string, user: string, password: string): Promise<{ code: number | null; detail: string }> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-api-reg-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${user};${DOMAIN};[authentication username=${user} password=${password}]\n`);
    const r = await runSipp({ scenario: join(SCENARIOS, 'register-digest.xml'), target, localPort: await freeUdpPort(), timeoutMs: 10_000, args: ['-m', '1', '-inf', injection] });
    return { code: r.code, detail: r.stderr + r.errors };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Admin writes through the REST API reach the running switch's caches at once (config.changed on
 * the event bus), not after the directory's 30 s or the dialplan store's 2 s refresh.
 */
describe('API writes invalidate the switch caches', () => {
  let sw: Switch;
  let api: (method: string, path: string, body?: unknown) => Promise<Response>;

  beforeAll(async () => {
    sw = await startSwitch(['1001', '1002']);
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

  it('a new account registers (sipp) right after the POST, though its miss was remembered', async () => {
    const refused = await sippRegister(sw.target, '1009', 'long-enough');
    expect(refused.code).not.toBe(0); // unknown account: the directory now remembers the miss
    expect((await api('POST', '/accounts', { username: '1009', password: 'long-enough' })).status).toBe(201);
    const registered = await sippRegister(sw.target, '1009', 'long-enough');
    expect(registered.code, registered.detail).toBe(0);
    const bindings = (await (await api('GET', `/accounts/${(await sw.running.db.accounts.findForAuth('1009', DOMAIN))!.id}/bindings`)).json()) as { items: Array<{ transport: string; sourceAddress: string }> };
    expect(bindings.items).toEqual([expect.objectContaining({ transport: 'udp', sourceAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) })]);

    // "Unregister this binding": gone from the live location service at once.
    const account = (await sw.running.db.accounts.findForAuth('1009', DOMAIN))!;
    const id = (bindings.items[0] as unknown as { id: string }).id;
    expect(sw.running.sip.location.lookup('1009', DOMAIN)).toHaveLength(1);
    expect((await api('DELETE', `/accounts/${account.id}/bindings/${id}`)).status).toBe(204);
    expect(sw.running.sip.location.lookup('1009', DOMAIN)).toHaveLength(0);
    expect(((await (await api('GET', `/accounts/${account.id}/bindings`)).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('a dialplan saved through the API answers the very next call (sipp), not the cached version', async () => {
    const save = (source: string) => api('PUT', '/dialplans/route', { language: 'ts', source });
    expect((await save('sys.Respond(486, "Busy Here");')).status).toBe(200);
    const list = (await (await api('GET', '/accounts?username=1002')).json()) as { items: Array<{ id: number }> };
    expect((await api('PATCH', `/accounts/${list.items[0]!.id}`, { outDialplan: 'route' })).status).toBe(200);
    await expectSippOk(await startSipp('e2e-uac-auth-fail-486.xml', { remote: sw.target, service: '2000', user: '1002' }));
    expect((await save('sys.Respond(480, "Temporarily Unavailable");')).status).toBe(200);
    await expectSippOk(await startSipp('e2e-uac-auth-fail-480.xml', { remote: sw.target, service: '2000', user: '1002' }));
  });
});
