import { describe, expect, it } from 'vitest';
import { DOMAIN, expectSippOk, freeUdpPort, registerPhone, useSwitch, type SippProcess } from './calls-support.ts';

/**
 * Calls through the real, fully wired server (startServer: SIP stack, registrar, CallService,
 * sandbox child) with sipp on both sides: 1001 authenticates with digest (407), its outgoing
 * dialplan dials a sipp UAS, and the SIP outcome, the dialplan's log lines and the CDR row are checked.
 */

const { sw, sipp } = useSwitch(['1001', '1002']);

function uas(scenario: string, calls = 1): Promise<SippProcess> {
  return sipp(scenario, { calls });
}

function uac(scenario: string, service: string): Promise<SippProcess> {
  return sipp(scenario, { remote: sw.target, service, user: '1001' });
}

async function newestCdrAfter(before: number) {
  const rows = await sw.waitForCdrs(before + 1);
  expect(rows.length).toBe(before + 1);
  return rows[0]!;
}

async function cdrCount(): Promise<number> {
  return (await sw.running.db.cdrs.list({ tenantId: sw.tenantId, limit: 1000 })).length;
}

describe('calls through dialplans, sipp on both sides', () => {
  it('answers through the outgoing dialplan; the caller hangs up; CDR written', async () => {
    const callee = await uas('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `sys.Log("dialling " + req.uri.user); await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const before = await cdrCount();
    const [, caller] = await expectSippOk(callee, await uac('e2e-uac-auth-answer-bye.xml', '2000'));
    expect(caller!.logs).toMatch(/answer sdp: c=IN IP4 127\.0\.0\.1/);
    const cdr = await newestCdrAfter(before);
    expect(cdr.direction).toBe('outbound');
    expect(cdr.caller).toContain(`1001@${DOMAIN}`);
    expect(cdr.callee).toContain(`2000@${DOMAIN}`);
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).toBeGreaterThanOrEqual(cdr.startedAt);
    expect(cdr.endedAt).toBeGreaterThanOrEqual(cdr.answeredAt!);
    expect(cdr.status).toBe('200');
    expect(cdr.legs).toHaveLength(1);
    expect(cdr.legs[0]!.destination).toContain(`sip:uas@127.0.0.1:${callee.port}`);
    expect(cdr.legs[0]!.status).toBe(200);
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && e['message'] === 'dialling 2000');
    expect(String(log.tenantId)).toBe(String(sw.tenantId));
    expect(log['callId']).toBe(cdr.callId);
    const types = sw.events.filter((e) => e['callId'] === cdr.callId).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['call.created', 'dialplan.log', 'leg.ringing', 'call.answered', 'call.ended']));
  });

  it('relays a BYE from the callee', async () => {
    const callee = await uas('call-uas-answer-hangup.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const before = await cdrCount();
    await expectSippOk(callee, await uac('e2e-uac-auth-answer-wait-bye.xml', '2000'));
    const cdr = await newestCdrAfter(before);
    expect(cdr.hangupSide).toBe('callee');
    expect(cdr.answeredAt).not.toBeNull();
  });

  it('passes a 486 from the callee to the caller', async () => {
    const callee = await uas('call-uas-busy.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const before = await cdrCount();
    await expectSippOk(callee, await uac('e2e-uac-auth-fail-486.xml', '2000'));
    const cdr = await newestCdrAfter(before);
    expect(cdr.status).toBe('486');
    expect(cdr.answeredAt).toBeNull();
    expect(cdr.legs[0]!.status).toBe(486);
  });

  it('gives up after ringTimeout: CANCEL to the callee, 408/480 to the caller', async () => {
    const callee = await uas('call-uas-ring-cancel.xml');
    await sw.useOutDialplan('1001', `const r = await sys.Dial("sip:uas@127.0.0.1:${callee.port}", { ringTimeout: 2 }); sys.Log("dial " + r.status + " " + r.outcome);`);
    const before = await cdrCount();
    await expectSippOk(callee, await uac('e2e-uac-auth-fail-408-480.xml', '2000'));
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('dial '));
    expect(log['message']).toBe('dial 408 no-answer');
    const cdr = await newestCdrAfter(before);
    expect(['408', '480']).toContain(cdr.status);
    expect(cdr.answeredAt).toBeNull();
  });

  it('cancels the ringing callee when the caller cancels', async () => {
    const callee = await uas('call-uas-ring-cancel.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const before = await cdrCount();
    await expectSippOk(callee, await uac('e2e-uac-auth-cancel.xml', '2000'));
    const cdr = await newestCdrAfter(before);
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).toBeNull();
  });

  it('relays a hold re-INVITE (a=sendonly reaches the callee, a=recvonly comes back)', async () => {
    // call-uas-hold.xml fails unless the re-INVITE it receives carries a=sendonly.
    const callee = await uas('call-uas-hold.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const mark = sw.events.length;
    const [, caller] = await expectSippOk(callee, await uac('e2e-uac-auth-hold.xml', '2000'));
    expect(caller!.logs).toContain('held: a=recvonly');
    // The phone's own hold is an event of the switch, like a switchboard hold: the lamp shows it.
    const after = sw.events.slice(mark);
    const held = after.find((e) => e.type === 'call.held');
    expect(held).toMatchObject({ party: 'callee', by: 'phone:1001' });
    expect(after.some((e) => e.type === 'extension.state' && e['user'] === '1001' && e['state'] === 'held')).toBe(true);
  });

  it('forks a&b: the second answers, the first gets CANCEL', async () => {
    const ringing = await uas('call-uas-ring-cancel.xml');
    const answering = await uas('call-uas-answer-late.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:a@127.0.0.1:${ringing.port}&sip:b@127.0.0.1:${answering.port}");`);
    const before = await cdrCount();
    await expectSippOk(ringing, answering, await uac('e2e-uac-auth-answer-bye.xml', '2000'));
    const cdr = await newestCdrAfter(before);
    // The CDR keeps every leg of the call with its own outcome.
    expect(cdr.legs.map((l) => [l.destination.replace(/^uri:/, ''), (l as { state?: string }).state, l.status ?? null])).toEqual([
      [`sip:a@127.0.0.1:${ringing.port}`, 'cancelled', null],
      [`sip:b@127.0.0.1:${answering.port}`, 'answered', 200],
    ]);
  });

  it('falls back a|b after a 486', async () => {
    const busy = await uas('call-uas-busy.xml');
    const answering = await uas('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:a@127.0.0.1:${busy.port}|sip:b@127.0.0.1:${answering.port}");`);
    const before = await cdrCount();
    await expectSippOk(busy, answering, await uac('e2e-uac-auth-answer-bye.xml', '2000'));
    const cdr = await newestCdrAfter(before);
    expect(cdr.legs.map((l) => l.status)).toEqual([486, 200]);
  });

  it('rewrites a private c= address in the answer to the packet source, and leaves it with [ma=false]', async () => {
    const rewritten = await uas('e2e-uas-private-sdp.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${rewritten.port}");`);
    const [, caller1] = await expectSippOk(rewritten, await uac('e2e-uac-auth-answer-bye.xml', '2000'));
    expect(caller1!.logs).toMatch(/answer sdp: c=IN IP4 127\.0\.0\.1\b/);

    const kept = await uas('e2e-uas-private-sdp.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${kept.port}[ma=false]");`);
    const [, caller2] = await expectSippOk(kept, await uac('e2e-uac-auth-answer-bye.xml', '2000'));
    expect(caller2!.logs).toMatch(/answer sdp: c=IN IP4 10\.1\.2\.3\b/);
  });

  it('rings the bindings of a registered account without an incoming dialplan (unauthenticated outside caller)', async () => {
    await sw.useInDialplan('1002', null);
    const port = await freeUdpPort();
    await registerPhone(sw, '1002', port);
    const callee = await sipp('call-uas-answer.xml', { port });
    const outsider = await sipp('e2e-uac-inbound-answer-bye.xml', { remote: sw.target, service: '1002' });
    const before = await cdrCount();
    await expectSippOk(callee, outsider);
    const cdr = await newestCdrAfter(before);
    expect(cdr.direction).toBe('inbound');
    expect(cdr.callee).toContain(`1002@${DOMAIN}`);
    expect(cdr.dialplan).toBeNull();
    expect(cdr.hangupSide).toBe('caller');
  });
});
