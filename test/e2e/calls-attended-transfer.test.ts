import { describe, expect, it } from 'vitest';
import { compileDialplan } from '../../sandbox/index.ts';
import { CallControl } from '../../server/calls/index.ts';
import { DOMAIN, addTenant, endedAt, expectSippOk, useSwitch } from './calls-support.ts';

/**
 * Attended transfer through the real switch with sipp on every side (DESIGN.md "Transfer
 * policy"): a phone with two calls REFERs one with a Replaces naming its other dialog with the
 * switch, and the switch joins the two far parties over their existing dialogs; a phone's INVITE
 * with Replaces takes a dialog over (RFC 3891). The attacker's side: a Replaces naming another
 * tenant's call changes nothing.
 */

const OTHER = 'other.test';
const { sw, sipp } = useSwitch(['1001', '1003', '1004']);

/** The other tenant, with its own 1003. */
async function otherTenant(): Promise<number> {
  return (await sw.running.db.tenants.findByDomain(OTHER))?.id ?? addTenant(sw, OTHER, ['1003']);
}

async function otherTenantDialplan(tenantId: number, user: string, source: string): Promise<void> {
  const compiled = await compileDialplan(source, 'ts');
  if (!compiled.ok) throw new Error('dialplan does not compile');
  const name = `other${Date.now()}`;
  await sw.running.db.dialplans.save({ tenantId, name, language: 'ts', source, compiledJs: compiled.js, sourceMap: compiled.sourceMap });
  await sw.running.db.accounts.update(user, OTHER, { outDialplan: name });
  sw.running.sip.directory.invalidate();
}

function phone(user: string, scenario: string, keys: Record<string, string> = {}, domain = DOMAIN) {
  return sipp(scenario, { remote: sw.target, service: '2000', user, domain, keys });
}


describe('attended transfer with Replaces, sipp on every side', () => {
  it('REFER with Replaces on tr=c calls: the two far parties are joined, the transferor gets NOTIFY 200 and BYE on both calls', async () => {
    const transferor = await sipp('attended-uas-transferor-two-calls.xml', { calls: 2, keys: { refer_user: '1003' } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:first@127.0.0.1:${transferor.port}[tr=c]");`);
    await sw.useOutDialplan('1003', `await sys.Dial("sip:second@127.0.0.1:${transferor.port}[tr=c]");`);
    const before = sw.events.length;
    // 1001 is the transferee: asked for an offer (offerless re-INVITE), it gets 1003's answer in its ACK.
    const transferee = await phone('1001', 'attended-uac-auth-offerless-reinvite-wait-bye.xml');
    await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    // 1003 is the target: re-INVITEd with the transferee's offer, it hangs up at the end.
    const target = await phone('1003', 'attended-uac-auth-reinvite-origin-bye.xml');
    const [p, x, y] = await expectSippOk(transferor, transferee, target);
    expect(p!.logs).toContain('notify: SIP/2.0 100');
    expect(p!.logs).toContain('notify: SIP/2.0 200');
    expect(y!.logs).toContain('re-invite sdp: o=caller');
    // 1001's ACK carries 1003's answer (its origin is "caller" too: both sipps use that scenario's SDP).
    expect(x!.logs).toContain('ack sdp: o=caller');
    const done = await sw.waitForEvent((e) => e.type === 'call.transferred' && e['kind'] === 'attended' && sw.events.indexOf(e) >= before);
    const kept = String(done['callId']);
    const joined = String(done['joinedCallId']);
    expect(joined).not.toBe(kept);
    // The kept call ends when the joined party (1003) hangs up: its BYE reached 1001 through it.
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === kept);
    expect(ended['hungUpBy']).toBe('callee');
    // 1003 moved into the kept call: a party of it (its lamp, its maxCalls slot) until that call ends.
    const moved = sw.events.findIndex((e) => e.type === 'call.party.joined' && e['callId'] === kept && e['account'] === '1003');
    expect(moved).toBeGreaterThanOrEqual(0);
    expect(moved).toBeLessThan(endedAt(sw, kept));
    const cdr = await sw.waitForCdr(kept);
    expect(cdr.history.map((h) => [h.type, h['kind'], h['result'], h['joinedCallId']])).toEqual([
      ['transfer', 'attended', 'accepted', joined], ['transfer', 'attended', 'completed', joined],
    ]);
    const other = await sw.waitForCdr(joined);
    expect(other.history).toEqual([expect.objectContaining({ type: 'transfer', kind: 'attended', result: 'completed', joinedCallId: kept })]);
    expect(other.outcome).toBe('answered');
    // Nothing was dialled for the transfer: each call has only its one leg.
    expect(cdr.legs).toHaveLength(1);
    expect(other.legs).toHaveLength(1);
  });

  it('a Replaces naming another tenant\'s call gets 403, and both calls go on untouched', async () => {
    const otherId = await otherTenant();
    const transferor = await sipp('attended-uas-transferor-two-calls.xml', { calls: 2, keys: { refer_user: '1003' } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:first@127.0.0.1:${transferor.port}[tr=c]");`);
    await otherTenantDialplan(otherId, '1003', `await sys.Dial("sip:second@127.0.0.1:${transferor.port}[tr=c]");`);
    const before = sw.events.length;
    // Both callers only wait for the BYE: an unexpected re-INVITE would fail their scenario.
    const ours = await phone('1001', 'e2e-uac-auth-answer-wait-bye.xml');
    await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const theirs = await phone('1003', 'e2e-uac-auth-answer-wait-bye.xml', {}, OTHER);
    const refused = await sw.waitForEvent((e) => e.type === 'call.transfer.refused' && sw.events.indexOf(e) >= before);
    expect(refused['status']).toBe(403);
    expect(refused['tenantId']).toBe(sw.tenantId);
    // The other tenant's call is still up: end it from that tenant's call control.
    const control = new CallControl(sw.running.sip.calls);
    const otherCalls = control.list(otherId);
    expect(otherCalls.map((c) => c.state)).toEqual(['answered']);
    expect(otherCalls[0]!.history).toEqual([]);
    control.hangup(otherId, otherCalls[0]!.id, 'test');
    const [p] = await expectSippOk(transferor, ours, theirs);
    expect(p!.logs).toContain('refer refused');
    expect(sw.events.filter((e) => sw.events.indexOf(e) >= before && (e.type === 'call.transferred' || e.type === 'call.replaced'))).toEqual([]);
  });

  it('the replaced call at tr=n keeps the REFER from joining it: 603, both calls go on', async () => {
    const transferor = await sipp('attended-uas-transferor-two-calls.xml', { calls: 2, keys: { refer_user: '1003' } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:first@127.0.0.1:${transferor.port}[tr=c]");`);
    await sw.useOutDialplan('1003', `await sys.Dial("sip:second@127.0.0.1:${transferor.port}");`);
    const before = sw.events.length;
    const ours = await phone('1001', 'e2e-uac-auth-answer-wait-bye.xml');
    await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const theirs = await phone('1003', 'e2e-uac-auth-answer-wait-bye.xml');
    const refused = await sw.waitForEvent((e) => e.type === 'call.transfer.refused' && sw.events.indexOf(e) >= before);
    expect(refused['status']).toBe(603);
    const control = new CallControl(sw.running.sip.calls);
    const second = control.list(sw.tenantId).find((c) => c.id !== refused['callId'] && c.state === 'answered');
    expect(second?.history).toEqual([]);
    control.hangup(sw.tenantId, second!.id, 'test');
    const [p] = await expectSippOk(transferor, ours, theirs);
    expect(p!.logs).toContain('refer refused');
  });

  it('INVITE with Replaces from a phone of the tenant takes the dialog over: the staying party is re-INVITEd, the replaced one gets BYE', async () => {
    const replaced = await sipp('replaces-uas-answer-log-dialog-wait-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${replaced.port}");`);
    const before = sw.events.length;
    // 1001 stays: it gets a re-INVITE with 1004's offer, then hangs up (its BYE reaches 1004).
    const staying = await phone('1001', 'transfer-uac-auth-reinvite-bye.xml');
    const [, callId, ours, theirs] = await replaced.waitForLog(/dialog (\S+) (\S+) (\S+)/);
    const taker = await phone('1004', 'replaces-uac-auth-invite-replaces-wait-bye.xml', { rcid: callId!, rtt: ours!, rft: theirs! });
    const [old] = await expectSippOk(replaced, staying, taker);
    expect(old!.logs).toMatch(/bye Reason: SIP;cause=200;text="Call replaced"/);
    const ev = await sw.waitForEvent((e) => e.type === 'call.replaced' && sw.events.indexOf(e) >= before);
    expect(ev['party']).toBe('callee');
    expect(ev['by']).toBe(`sip:1004@${DOMAIN}`);
    // The phone that took the dialog over is a party of the call now.
    const joined = sw.events.findIndex((e) => e.type === 'call.party.joined' && e['callId'] === ev['callId'] && e['account'] === '1004');
    expect(joined).toBeGreaterThanOrEqual(0);
    expect(joined).toBeLessThan(endedAt(sw, String(ev['callId'])));
    const cdr = await sw.waitForCdr(String(ev['callId']));
    expect(cdr.history).toEqual([expect.objectContaining({ type: 'replaced', party: 'callee', by: `sip:1004@${DOMAIN}` })]);
    expect(cdr.outcome).toBe('answered');
  });

  it('INVITE with Replaces: no such dialog → 481; another tenant\'s phone naming our call → 481; early-only → 486; an outsider → 403; the call goes on', async () => {
    const otherId = await otherTenant();
    expect(otherId).toBeGreaterThan(0);
    const replaced = await sipp('replaces-uas-answer-log-dialog-wait-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${replaced.port}");`);
    const before = sw.events.length;
    const staying = await phone('1001', 'e2e-uac-auth-answer-wait-bye.xml');
    const [, callId, ours, theirs] = await replaced.waitForLog(/dialog (\S+) (\S+) (\S+)/);
    await expectSippOk(await phone('1004', 'replaces-uac-auth-invite-replaces-481.xml', { rcid: 'no-such-call', rtt: ours!, rft: theirs! }));
    await expectSippOk(await phone('1003', 'replaces-uac-auth-invite-replaces-481.xml', { rcid: callId!, rtt: ours!, rft: theirs! }, OTHER));
    // early-only names an early dialog; ours is confirmed: 486 (RFC 3891 §3).
    await expectSippOk(await phone('1004', 'replaces-uac-auth-invite-replaces-486.xml', { rcid: callId!, rtt: ours!, rft: `${theirs!};early-only` }));
    // No credentials at all (From outside every tenant): 403, whatever the Replaces names.
    await expectSippOk(await sipp('replaces-uac-outsider-403.xml', { remote: sw.target, service: '1004', keys: { rcid: callId!, rtt: ours!, rft: theirs! } }));
    const control = new CallControl(sw.running.sip.calls);
    const call = control.list(sw.tenantId).find((c) => c.state === 'answered');
    expect(call?.history).toEqual([]);
    control.hangup(sw.tenantId, call!.id, 'test');
    await expectSippOk(replaced, staying);
    expect(sw.events.some((e) => sw.events.indexOf(e) >= before && e.type === 'call.replaced')).toBe(false);
  });
});
