import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSipp } from './harness/index.ts';
import { DOMAIN, PASSWORD, SCENARIOS, endedAt, expectSippOk, freeUdpPort, useSwitch, waitForLamp } from './calls-support.ts';

/**
 * Switchboard attended transfer through the real switch with sipp: 1001 calls the receptionist's
 * phone; the receptionist consults extension 1004 over REST (1001 waits on hold), then completes:
 * 1001 and 1004 talk, the receptionist's phone gets BYE.
 */

const { sw, sipp } = useSwitch(['1001', '1002', '1004']);

async function register(user: string, port: number): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-consult-reg-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${user};${DOMAIN};[authentication username=${user} password=${PASSWORD}]\n`);
    const reg = await runSipp({
      scenario: join(SCENARIOS, 'register-digest.xml'), target: sw.target, localPort: port, timeoutMs: 15_000, args: ['-m', '1', '-inf', injection],
    });
    expect(reg.code, reg.stderr + reg.errors).toBe(0);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

describe('consult transfer from live call control', () => {
  it('consult 1004 while the caller waits on hold, then complete: caller and 1004 are joined, the consultant leaves', async () => {
    const user = await sw.running.db.users.add({ email: 'consult@acme.test', password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    const other = await sw.running.db.tenants.add({ domain: 'consult-other.test' });
    const strangerUser = await sw.running.db.users.add({ email: 'consult@consult-other.test', password: 'a-long-web-password', role: 'receptionist', tenantId: other.id });
    const stranger = (await sw.running.db.tokens.create({ userId: strangerUser.id, name: 'test' })).token;
    const { host, port } = sw.running.httpAddress;
    const post = (t: string, path: string, body?: unknown) => fetch(`http://${host}:${port}/api/v1${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const deskPort = await freeUdpPort();
    await register('1004', deskPort);
    const target = await sipp('consult-uas-target-joined-bye.xml', { port: deskPort });
    const consultant = await sipp('consult-uas-consultant-wait-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:reception@127.0.0.1:${consultant.port}");`);
    const before = sw.events.length;
    const caller = await sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const answered = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const callId = String(answered['callId']);

    expect((await post(token, `/calls/${callId}/consult/complete`)).status).toBe(409);
    expect((await post(stranger, `/calls/${callId}/consult`, { party: 'callee', destination: '1004' })).status).toBe(404);
    const bad = await post(token, `/calls/${callId}/consult`, { party: 'callee', destination: 'sip:x@evil' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field?: string }).field).toBe('destination');

    const started = await post(token, `/calls/${callId}/consult`, { party: 'callee', destination: '1004' });
    expect(started.status, await started.clone().text()).toBe(200);
    const done = await post(token, `/calls/${callId}/consult/complete`);
    expect(done.status, await done.clone().text()).toBe(200);
    const [x, r, d] = await expectSippOk(caller, consultant, target);
    expect(x!.logs).toMatch(/hold: a=sendonly/);
    expect(r!.logs).toContain('consulting: o=target');
    expect(d!.logs).toContain('joined: o=caller');
    expect(x!.logs).toContain('ack sdp: o=target');
    expect(r!.logs).toMatch(/bye Reason: SIP;cause=200;text="Call transferred"/);
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['hungUpBy']).toBe('callee');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history.map((h) => [h.type, h['kind'], h['result'], h['by']])).toEqual([
      ['transfer', 'attended', 'accepted', 'api:consult@acme.test'], ['transfer', 'attended', 'completed', 'api:consult@acme.test'],
    ]);
    expect(cdr.legs.map((l) => l.destination)).toEqual([`uri:sip:reception@127.0.0.1:${consultant.port}`, 'local:1004']);
  });

  it('consult then cancel: the consult target gets BYE, caller and consultant talk again', async () => {
    const user = await sw.running.db.users.add({ email: 'cancel@acme.test', password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    const { host, port } = sw.running.httpAddress;
    const post = (path: string) => fetch(`http://${host}:${port}/api/v1${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: path.endsWith('/consult') ? JSON.stringify({ party: 'callee', destination: '1004' }) : undefined,
    });
    const deskPort = await freeUdpPort();
    await register('1004', deskPort);
    const target = await sipp('transfer-uas-late-offer.xml', { port: deskPort });
    const consultant = await sipp('consult-uas-consultant-cancel-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:reception@127.0.0.1:${consultant.port}");`);
    const before = sw.events.length;
    const caller = await sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const answered = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const callId = String(answered['callId']);
    const started = await post(`/calls/${callId}/consult`);
    expect(started.status, await started.clone().text()).toBe(200);
    const cancelled = await post(`/calls/${callId}/consult/cancel`);
    expect(cancelled.status, await cancelled.clone().text()).toBe(200);
    const [x, r] = await expectSippOk(caller, consultant, target);
    expect(r!.logs).toContain('consulting: o=target');
    expect(r!.logs).toContain('rejoined: o=caller');
    expect(x!.logs).toContain('ack sdp: o=consultant');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history.map((h) => [h['result'], h['status']])).toEqual([['accepted', undefined], ['failed', 487]]);
  });

  it('complete: the consultant extension 1002 is idle while caller and target talk, the target 1004 busy', async () => {
    const user = await sw.running.db.users.add({ email: 'consult-lamps@acme.test', password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    const { host, port } = sw.running.httpAddress;
    const post = (path: string, body?: unknown) => fetch(`http://${host}:${port}/api/v1${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const consultantPort = await freeUdpPort();
    const targetPort = await freeUdpPort();
    await register('1002', consultantPort);
    await register('1004', targetPort);
    const consultant = await sipp('consult-uas-consultant-wait-bye.xml', { port: consultantPort });
    const target = await sipp('consult-uas-target-joined-bye.xml', { port: targetPort });
    await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const before = sw.events.length;
    const caller = await sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '1002', user: '1001' });
    const answered = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const callId = String(answered['callId']);
    await waitForLamp(sw, '1002', 'busy', before);
    expect((await post(`/calls/${callId}/consult`, { party: 'callee', destination: '1004' })).status).toBe(200);
    const completedFrom = sw.events.length;
    const done = await post(`/calls/${callId}/consult/complete`);
    expect(done.status, await done.clone().text()).toBe(200);
    const idle = await waitForLamp(sw, '1002', 'idle', completedFrom);
    const left = sw.events.findIndex((e, i) => i >= completedFrom && e.type === 'call.party.left' && e['callId'] === callId && e['account'] === '1002');
    expect(left).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThan(endedAt(sw, callId));
    // 1004 rang and talked to the consultant, then took the consultant's side: busy all along, until the call ends.
    expect(await waitForLamp(sw, '1004', 'busy', before)).toBeLessThan(completedFrom);
    expect(sw.events.some((e, i) => i >= completedFrom && i < endedAt(sw, callId) && e.type === 'extension.state' && e['user'] === '1004')).toBe(false);
    await expectSippOk(caller, consultant, target);
    await waitForLamp(sw, '1004', 'idle', completedFrom);
  });
});
