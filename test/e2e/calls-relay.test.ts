import { describe, expect, it } from 'vitest';
import { useSwitch } from './calls-support.ts';

/**
 * In-dialog requests through the real B2BUA after answer, sipp on both sides: 1001 (digest) dials a
 * sipp UAS through its outgoing dialplan; the scenarios check what arrives on the far side (SDP
 * direction attributes, the INFO body, the relayed OPTIONS answer, the ACK of a relayed re-INVITE).
 */

const { sw, sipp } = useSwitch(['1001']);

async function callThrough(uacScenario: string, uasScenario: string): Promise<{ caller: string; callee: string; callId: string }> {
  const callee = await sipp(uasScenario);
  await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
  const before = (await sw.running.db.cdrs.list({ tenantId: sw.tenantId, limit: 1000 })).length;
  const caller = await sipp(uacScenario, { remote: sw.target, service: '2000', user: '1001' });
  const results = await Promise.all([caller.done, callee.done]);
  expect(results.map((r) => r.code), results.map((r) => r.output).join('\n=========\n')).toEqual([0, 0]);
  const rows = await sw.waitForCdrs(before + 1);
  expect(rows.length).toBe(before + 1);
  return { caller: results[0].logs, callee: results[1].logs, callId: rows[0]!.callId };
}

describe('in-dialog relay through the B2BUA (sipp both sides)', () => {
  it('relays UPDATE, INFO and OPTIONS from the caller, INFO and a hold re-INVITE from the callee', async () => {
    const { caller, callee, callId } = await callThrough('relay-uac-auth-in-dialog.xml', 'relay-uas-in-dialog.xml');
    // UPDATE: the offer's direction reaches the callee, the answer's comes back.
    expect(callee).toContain('update offer: a=inactive');
    expect(caller).toContain('update answer: a=inactive');
    // INFO caller → callee and callee → caller: content type and body as sent (each scenario sends
    // `Signal=5<CRLF>Duration=160<CRLF>`, 24 bytes; the receiving one logs Content-Length and the body it got).
    expect(callee).toContain('callee info: application/dtmf-relay length 24 body Signal=5\r\nDuration=160\r\n');
    expect(caller).toContain('caller info: application/dtmf-relay length 24 body Signal=5\r\nDuration=160\r\n');
    // OPTIONS: relayed to the callee, and its own answer (a reason phrase only it uses) relayed back.
    expect(callee).toContain('options received');
    expect(caller).toContain('options answer: SIP/2.0 200 Options Answered By Callee');
    // Hold re-INVITE from the callee: a=sendonly reaches the caller, a=recvonly goes back, the caller gets an ACK.
    expect(caller).toContain('callee hold offer: a=sendonly');
    expect(callee).toContain('hold answer: a=recvonly');
    expect(caller).toMatch(/re-INVITE ACK received from +<sip:2000@acme\.test>;tag=/);
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).not.toBeNull();
  });

  it('refuses a crossing re-INVITE with 491, and a BYE during the pending re-INVITE ends both sides with a CDR', async () => {
    const { caller, callee, callId } = await callThrough('relay-uac-auth-reinvite-bye.xml', 'relay-uas-reinvite-glare.xml');
    // The caller's hold re-INVITE reaches the callee; the callee's own re-INVITE, sent before it answers, gets 491.
    expect(callee).toContain('relayed re-INVITE: a=sendonly');
    expect(callee).toContain('own re-INVITE refused: 491');
    // BYE while that re-INVITE is pending: 200 for the BYE, 487 for the re-INVITE, BYE relayed to the callee.
    expect(caller).toMatch(/BYE answered: BYE/);
    expect(caller).toMatch(/re-INVITE answered 487: INVITE/);
    expect(callee).toContain('BYE received');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).not.toBeNull();
    expect(cdr.endedAt).toBeGreaterThanOrEqual(cdr.answeredAt!);
    expect(sw.running.sip.calls.activeCalls()).toEqual([]);
  });
});
