import { describe, expect, it } from 'vitest';
import { makeAccount, startSipp } from './call-test-support.ts';
import { expectOk, useSippSwitch } from './sipp-switch-test-support.ts';

/**
 * End to end through real sockets: sipp UAC → Patchbay (SipStack + CallService + the real
 * dialplan sandbox) → sipp UAS. Each sipp runs one call with a 20 s timeout, so nothing hangs.
 */

const h = useSippSwitch();
const { addDialplan, uac } = h;

describe('CallService with sipp', () => {
  it('rings the bindings of an account without a dialplan; the caller hangs up', async () => {
    h.accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-answer.xml');
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-answer-bye.xml'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(cdr!.direction).toBe('inbound');
    expect(cdr!.answeredAt).toBeDefined();
    expect(h.events.map((e) => e.type)).toEqual(expect.arrayContaining(['call.created', 'leg.ringing', 'call.answered', 'call.ended']));
    expect(h.service.activeCalls()).toEqual([]);
  });

  it('passes a 486 from the callee to the caller', async () => {
    h.accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-busy.xml');
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-fail-486.xml'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.status).toBe(486);
    expect(cdr!.legs[0]!.status).toBe(486);
  });

  it('gives up after the dialplan ring timeout: CANCEL to the callee, 408 to the caller', async () => {
    h.accounts.add(makeAccount('bob', { inDialplan: 'short' }));
    await addDialplan('short', 'const r = await sys.Dial("bob@local", { ringTimeout: 1 }); sys.Log(`dial ${r.status} ${r.outcome}`);');
    const uas = await startSipp('call-uas-ring-cancel.xml');
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-fail-408.xml'));
    await h.cdrs.waitFor(1);
    const logs = h.events.filter((e) => e.type === 'dialplan.log').map((e) => (e as { message: string }).message);
    expect(logs).toContain('dial 408 no-answer');
  });

  it('cancels the ringing leg when the caller cancels', async () => {
    h.accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-ring-cancel.xml');
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-cancel.xml'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.outcome).toBe('cancelled');
    expect(cdr!.hungUpBy).toBe('caller');
  });

  it('relays a BYE from the callee', async () => {
    h.accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-answer-hangup.xml');
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-answer-wait-bye.xml'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('callee');
  });

  it('relays a hold re-INVITE with its direction attributes', async () => {
    h.accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-hold.xml');
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-hold.xml'));
  });

  it('forks in parallel: the second leg answers, the first gets CANCEL', async () => {
    const ringing = await startSipp('call-uas-ring-cancel.xml');
    const answering = await startSipp('call-uas-answer-late.xml');
    h.accounts.add(makeAccount('bob', { inDialplan: 'fork' }));
    await addDialplan('fork', `await sys.Dial("sip:a@127.0.0.1:${ringing.port}&sip:b@127.0.0.1:${answering.port}");`);
    await expectOk(ringing, answering, await uac('call-uac-answer-bye.xml'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.legs.map((l) => l.state)).toEqual(['cancelled', 'answered']);
  });

  it('falls back to the next group when the first is busy', async () => {
    const busy = await startSipp('call-uas-busy.xml');
    const answering = await startSipp('call-uas-answer.xml');
    h.accounts.add(makeAccount('bob', { inDialplan: 'seq' }));
    await addDialplan('seq', `await sys.Dial("sip:a@127.0.0.1:${busy.port}|sip:b@127.0.0.1:${answering.port}");`);
    await expectOk(busy, answering, await uac('call-uac-answer-bye.xml'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.legs.map((l) => [l.state, l.status])).toEqual([['failed', 486], ['answered', 200]]);
  });

  it('answers 404 for an unknown user and 480 for an account without bindings', async () => {
    h.accounts.add(makeAccount('carol'));
    await expectOk(await uac('call-uac-fail-404.xml', 'nobody'));
    await expectOk(await uac('call-uac-fail-480.xml', 'carol'));
  });

  it('answers the caller from the script with sys.Respond', async () => {
    h.accounts.add(makeAccount('bob', { inDialplan: 'respond' }));
    await addDialplan('respond', 'await sys.Respond(403, "Not today");');
    await expectOk(await uac('call-uac-fail-403.xml'));
  });
});
