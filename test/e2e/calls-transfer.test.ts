import { describe, expect, it } from 'vitest';
import { endedAt, expectSippOk, freeUdpPort, registerPhone, setMaxCalls, useSwitch, waitForLamp, type SippProcess } from './calls-support.ts';

/**
 * REFER through the real switch, per the answered leg's `tr` (DESIGN.md "Transfer policy"), with
 * sipp as caller (1001, digest), callee (the referrer) and the transfer's new party. The callee's
 * REFER to a premium number is the toll-fraud attack: it must never make the switch dial it.
 */

const { sw, sipp } = useSwitch(['1001', '1003', '1004']);

/** The tenant's transfer dialplan: refuses 09… numbers, dials the port the test stored for anything else. */
const TRANSFER_DIALPLAN = `
sys.Log("transfer of " + req.transfer?.originalCallId + " to " + req.uri.user + " by " + req.transfer?.referrer);
if (/^09/.test(req.uri.user)) {
  sys.Respond(403, "Premium numbers are barred");
} else {
  const port = await sys.DBRead("transfer-target-port");
  await sys.Dial("sip:" + req.uri.user + "@127.0.0.1:" + port);
}
`;

function uas(scenario: string, port?: number): Promise<SippProcess> {
  return sipp(scenario, { port });
}

function caller(scenario: string): Promise<SippProcess> {
  return sipp(scenario, { remote: sw.target, service: '2000', user: '1001' });
}


function eventsOf(callId: string, prefix: string) {
  return sw.events.filter((e) => e['callId'] === callId && e.type.startsWith(prefix));
}

describe('transfers (REFER) through the switch, sipp on every side', () => {
  it('tr unset: a REFER to a premium number gets 603, nothing is dialled, the refusal is an event and a log line', async () => {
    await sw.useNamedDialplan('transfer', TRANSFER_DIALPLAN);
    const callee = await uas('transfer-uas-refer-refused.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const before = sw.events.length;
    await expectSippOk(callee, await caller('e2e-uac-auth-answer-wait-bye.xml'));
    const refused = await sw.waitForEvent((e) => e.type === 'call.transfer.refused' && sw.events.indexOf(e) >= before);
    expect(refused['referTo']).toBe('<sip:0900123456@acme.test>');
    expect(refused['status']).toBe(603);
    expect(refused['legId']).toBe(1);
    const callId = String(refused['callId']);
    // No leg toward the number: the only leg of the call is the callee's, and the transfer dialplan never ran.
    expect(sw.events.filter((e) => e['callId'] === callId && e.type === 'leg.ringing').map((e) => e['target'])).toEqual([`uri:sip:callee@127.0.0.1:${callee.port}`]);
    expect(sw.events.some((e) => e.type === 'dialplan.log' && e['dialplan'] === 'transfer' && e['callId'] === callId)).toBe(false);
    await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    const cdr = await sw.waitForCdr(callId);
    expect(cdr.legs).toHaveLength(1);
    expect(cdr.history).toEqual([
      expect.objectContaining({ type: 'transfer', kind: 'blind', result: 'refused', referTo: '<sip:0900123456@acme.test>', legId: 1, status: 603 }),
    ]);
  });

  it('tr=c: the transfer dialplan refuses 09…, then connects the caller to the allowed target and ends the referrer', async () => {
    await sw.useNamedDialplan('transfer', TRANSFER_DIALPLAN);
    const target = await uas('transfer-uas-late-offer.xml');
    await sw.running.db.kv.write(sw.tenantId, 'transfer-target-port', String(target.port));
    const callee = await uas('transfer-uas-refer-switch.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}[tr=c]");`);
    const before = sw.events.length;
    const [referrer, newParty, transferee] = await expectSippOk(callee, target, await caller('transfer-uac-auth-reinvite-bye.xml'));
    expect(referrer!.logs).toContain('notify: SIP/2.0 403');
    expect(referrer!.logs).toContain('notify: SIP/2.0 200');
    // The new party got the caller's SDP answer in its ACK; the caller got the new party's offer.
    expect(newParty!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    expect(transferee!.logs).toMatch(/re-invite sdp: c=IN IP4 127\.0\.0\.1/);
    const done = await sw.waitForEvent((e) => e.type === 'call.transferred' && sw.events.indexOf(e) >= before);
    const callId = String(done['callId']);
    expect(done['referTo']).toBe('<sip:2002@acme.test>');
    const results = eventsOf(callId, 'call.transfer').map((e) => [e.type, e['referTo'], e['status']]);
    expect(results).toEqual([
      ['call.transfer.accepted', '<sip:0900123456@acme.test>', undefined],
      ['call.transfer.failed', '<sip:0900123456@acme.test>', 403],
      ['call.transfer.accepted', '<sip:2002@acme.test>', undefined],
      ['call.transferred', '<sip:2002@acme.test>', 200],
    ]);
    // Only the allowed target was ever dialled.
    const dialled = sw.events.filter((e) => e['callId'] === callId && e.type === 'leg.ringing').map((e) => String(e['target']));
    expect(dialled.some((t) => t.includes('0900123456'))).toBe(false);
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && e['dialplan'] === 'transfer' && e['callId'] === callId);
    expect(log['message']).toMatch(new RegExp(`^transfer of ${callId} to 0900123456 by sip:callee@`));
    expect(done['legId']).toBe(1);
    expect(done['newLegId']).toBe(2);
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['hungUpBy']).toBe('caller');
    const cdr = await sw.waitForCdr(callId);
    expect(cdr.history.map((h) => [h['result'], h['status']])).toEqual([['accepted', undefined], ['failed', 403], ['accepted', undefined], ['completed', 200]]);
    expect(cdr.dialStrings).toEqual([`sip:callee@127.0.0.1:${callee.port}[tr=c]`, `sip:2002@127.0.0.1:${target.port}`]);
    expect(cdr.legs.map((l) => l.destination)).toEqual([`uri:sip:callee@127.0.0.1:${callee.port}`, `uri:sip:2002@127.0.0.1:${target.port}`]);
    expect(cdr.outcome).toBe('answered');
  });

  it('tr=p: the REFER goes to the other party in its dialog and its NOTIFY comes back to the referrer', async () => {
    const callee = await uas('transfer-uas-refer-pass.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}[tr=p]");`);
    const before = sw.events.length;
    const [referrer, far] = await expectSippOk(callee, await caller('transfer-uac-auth-refer-notify.xml'));
    expect(far!.logs).toContain('refer-to: sip:2002@acme.test');
    expect(referrer!.logs).toContain('notify: SIP/2.0 200');
    const passed = await sw.waitForEvent((e) => e.type === 'call.transfer.passed' && sw.events.indexOf(e) >= before);
    expect(passed['status']).toBe(202);
  });

  it('REST blind transfer away from the receptionist: her lamp is idle and her one call slot free while the call goes on; the target is busy', async () => {
    const user = await sw.running.db.users.add({ email: 'transfer-lamps@acme.test', password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    const { host, port } = sw.running.httpAddress;
    const post = (path: string, body?: unknown) => fetch(`http://${host}:${port}/api/v1${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    await sw.useNamedDialplan('transfer', 'await sys.Dial(req.uri.user + "@local");');
    const deskPort = await freeUdpPort();
    const targetPort = await freeUdpPort();
    await registerPhone(sw, '1003', deskPort);
    await registerPhone(sw, '1004', targetPort);
    await setMaxCalls(sw, '1003', 1);
    try {
      const desk = await uas('call-uas-answer.xml', deskPort);
      const target = await uas('transfer-uas-late-offer.xml', targetPort);
      const before = sw.events.length;
      // An outside caller rings the receptionist's account 1003 (no incoming dialplan: its phone rings).
      const outside = await sipp('board-uac-inbound-number-reinvite-wait-bye.xml', { remote: sw.target, service: '1003', keys: { caller: '+493055501234' } });
      const answered = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
      const callId = String(answered['callId']);
      await waitForLamp(sw, '1003', 'busy', before);
      const moved = await post(`/calls/${callId}/transfer`, { party: 'caller', destination: '1004' });
      expect(moved.status, await moved.clone().text()).toBe(200);
      await expectSippOk(desk);
      const idle = await waitForLamp(sw, '1003', 'idle', before);
      const busy = await waitForLamp(sw, '1004', 'busy', before);
      expect(idle).toBeLessThan(endedAt(sw, callId));
      expect(busy).toBeLessThan(endedAt(sw, callId));
      // 1003 may be in one call at a time: the call it transferred away no longer counts.
      const other = await uas('call-uas-answer.xml');
      await sw.useOutDialplan('1003', `await sys.Dial("sip:other@127.0.0.1:${other.port}");`);
      await expectSippOk(other, await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1003' }));
      expect(endedAt(sw, callId)).toBe(Infinity);
      const leftEvents = sw.events.filter((e) => e.type === 'call.party.left' && e['callId'] === callId).map((e) => e['account']);
      expect(leftEvents).toEqual(['1003', '1003']);
      expect((await post(`/calls/${callId}/hangup`)).status).toBe(200);
      await expectSippOk(outside, target);
    } finally {
      await setMaxCalls(sw, '1003', null);
    }
  });
});
