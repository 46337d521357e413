import { describe, expect, it } from 'vitest';
import { answeredCall, endedAt, expectSippOk, freeUdpPort, registerPhone, restApi, useSwitch, waitForLamp } from './calls-support.ts';

/**
 * Switchboard attended transfer through the real switch with sipp: 1001 calls the receptionist's
 * phone; the receptionist consults extension 1004 over REST (1001 waits on hold), then completes:
 * 1001 and 1004 talk, the receptionist's phone gets BYE.
 */

const { sw, sipp } = useSwitch(['1001', '1002', '1004']);
const { tokenFor, api } = restApi(sw);

describe('consult transfer from live call control', () => {
  it('consult 1004 while the caller waits on hold, then complete: caller and 1004 are joined, the consultant leaves', async () => {
    const token = await tokenFor('consult@acme.test', sw.tenantId);
    const other = await sw.running.db.tenants.add({ domain: 'consult-other.test' });
    const stranger = await tokenFor('consult@consult-other.test', other.id);
    const post = (t: string, path: string, body?: unknown) => api(t, 'POST', path, body);
    const deskPort = await freeUdpPort();
    await registerPhone(sw, '1004', deskPort);
    const target = await sipp('consult-uas-target-joined-bye.xml', { port: deskPort });
    const consultant = await sipp('consult-uas-consultant-wait-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:reception@127.0.0.1:${consultant.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));

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
    const token = await tokenFor('cancel@acme.test', sw.tenantId);
    const post = (path: string) => api(token, 'POST', path, path.endsWith('/consult') ? { party: 'callee', destination: '1004' } : undefined);
    const deskPort = await freeUdpPort();
    await registerPhone(sw, '1004', deskPort);
    const target = await sipp('transfer-uas-late-offer.xml', { port: deskPort });
    const consultant = await sipp('consult-uas-consultant-cancel-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:reception@127.0.0.1:${consultant.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
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

  it('the consult target hangs up: its BYE is answered, caller and consultant talk again, the consult is over', async () => {
    const token = await tokenFor('hangup@acme.test', sw.tenantId);
    const deskPort = await freeUdpPort();
    await registerPhone(sw, '1004', deskPort);
    const target = await sipp('consult-uas-target-hangs-up.xml', { port: deskPort });
    const consultant = await sipp('consult-uas-consultant-cancel-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:reception@127.0.0.1:${consultant.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
    const started = await api(token, 'POST', `/calls/${callId}/consult`, { party: 'callee', destination: '1004' });
    expect(started.status, await started.clone().text()).toBe(200);
    const [x, r] = await expectSippOk(caller, consultant, target);
    expect(r!.logs).toContain('rejoined: o=caller');
    expect(x!.logs).toContain('ack sdp: o=consultant');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history.map((h) => [h['result'], h['status'], h['by']])).toEqual([['accepted', undefined, 'api:hangup@acme.test'], ['failed', 487, 'consult target']]);
  });

  it('complete: the consultant extension 1002 is idle while caller and target talk, the target 1004 busy', async () => {
    const token = await tokenFor('consult-lamps@acme.test', sw.tenantId);
    const post = (path: string, body?: unknown) => api(token, 'POST', path, body);
    const consultantPort = await freeUdpPort();
    const targetPort = await freeUdpPort();
    await registerPhone(sw, '1002', consultantPort);
    await registerPhone(sw, '1004', targetPort);
    const consultant = await sipp('consult-uas-consultant-wait-bye.xml', { port: consultantPort });
    const target = await sipp('consult-uas-target-joined-bye.xml', { port: targetPort });
    await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const { caller, callId, before } = await answeredCall(sw, () => sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '1002', user: '1001' }));
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
