import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeAccount, SCENARIOS, startSipp } from '../call-test-support.ts';
import { expectOk, useSippSwitch } from '../sipp-switch-test-support.ts';

/**
 * sys functions that put SIP on the wire, end to end: sipp UAC → Patchbay (real SipStack on
 * 127.0.0.1:0, CallService, the real sandbox) → sipp UAS(s) whose scenarios check what arrives.
 */

const OWN = path.relative(SCENARIOS, path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'sipp-scenarios'));
const LOCAL_ONLY = ['127.0.0.1/32'];

const h = useSippSwitch();
const { addDialplan, uac } = h;

/** Dialplans may still be running after the CDR: wait (bounded) for `n` log lines. */
async function logLines(n: number): Promise<Array<{ dialplan: string; message: string }>> {
  for (let i = 0; i < 100 && logs().length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return logs();
}

function logs(): Array<{ dialplan: string; message: string }> {
  return h.events.filter((e) => e.type === 'dialplan.log').map((e) => e as { dialplan: string; message: string });
}

describe('dialplan sys functions on the wire', () => {
  it('SetFromHeader and SetCustomSIPHeader reach the callee; RemoveCustomSIPHeader removes', async () => {
    h.accounts.add(makeAccount('bob', { inDialplan: 'hdrs' }));
    await addDialplan('hdrs', `
      await sys.SetFromHeader("Boss", "0211234567");
      await sys.SetCustomSIPHeader("X-Patchbay", "hello world");
      await sys.SetCustomSIPHeader("X-Removed", "gone");
      await sys.RemoveCustomSIPHeader("x-removed");
      try { await sys.SetCustomSIPHeader("Call-ID", "x"); } catch (e) { sys.Log("refused: " + e.message); }
      await sys.Dial("bob@local");`);
    const uas = await startSipp(`${OWN}/uas-check-headers.xml`);
    h.location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-answer-bye.xml', 'bob'));
    await h.cdrs.waitFor(1);
    expect(logs().map((l) => l.message)).toContain('refused: SetCustomSIPHeader: Call-ID is set by the switch and cannot be changed');
  });

  it("a local leg runs the account's incoming dialplan, whose Dial answers the caller", async () => {
    h.accounts.add(makeAccount('1001', { allowedCidrs: LOCAL_ONLY, trustUdpSource: true, outDialplan: 'out1001' }));
    h.accounts.add(makeAccount('1002', { inDialplan: 'in1002' }));
    h.accounts.add(makeAccount('1003'));
    await addDialplan('out1001', 'const r = await sys.Dial("1002@local"); sys.Log(`out ${r.answered} ${r.status}`);');
    await addDialplan('in1002', 'sys.Log("in " + req.uri.user + " " + req.direction); const r = await sys.Dial("1003@local"); sys.Log(`nested ${r.status}`);');
    const uas = await startSipp('call-uas-answer.xml');
    h.location.addUdp('1003', uas.port);
    const callee1002 = await startSipp('call-uas-ring-cancel.xml'); // must NOT be rung: 1002 has a dialplan
    h.location.addUdp('1002', callee1002.port);
    await expectOk(uas, await uac(`${OWN}/uac-1001-answer-bye.xml`, '1002'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.direction).toBe('outbound');
    expect(cdr!.hungUpBy).toBe('caller');
    expect(cdr!.legs.map((l) => [l.target, l.state])).toEqual([['local:1002', 'answered'], [expect.stringContaining('1003'), 'answered']]);
    expect(cdr!.legs[1]!.parentLegId).toBe(cdr!.legs[0]!.legId);
    expect(await logLines(3)).toEqual(expect.arrayContaining([
      expect.objectContaining({ dialplan: 'in1002', message: 'in 1002 in' }),
      expect.objectContaining({ dialplan: 'in1002', message: 'nested 200' }),
      expect.objectContaining({ dialplan: 'out1001', message: 'out true 200' }),
    ]));
    process.kill(callee1002.pid!); // it never got an INVITE
  });

  it('an account already in the chain is rung on its bindings (loop guard)', async () => {
    h.accounts.add(makeAccount('1001', { inDialplan: 'in1001' }));
    h.accounts.add(makeAccount('1002', { inDialplan: 'in1002' }));
    await addDialplan('in1001', 'sys.Log("in1001 ran"); await sys.Dial("1002@local");');
    await addDialplan('in1002', 'sys.Log("in1002 ran"); await sys.Dial("1001@local&1002@local");');
    const uas = await startSipp('call-uas-answer.xml');
    h.location.addUdp('1001', uas.port);
    await expectOk(uas, await uac('call-uac-answer-bye.xml', '1001'));
    const [cdr] = await h.cdrs.waitFor(1);
    // 1001's and 1002's dialplans each ran once; 1001 was then rung directly, 1002 has no binding.
    expect(logs().map((l) => l.message)).toEqual(['in1001 ran', 'in1002 ran']);
    expect(cdr!.legs.map((l) => [l.target, l.state, l.status])).toEqual([
      ['local:1002', 'answered', 200], ['local:1001', 'answered', 200], ['local:1002', 'failed', 480],
    ]);
  });

  it("a nested dialplan's sys.Respond is the local leg's failure", async () => {
    h.accounts.add(makeAccount('1001', { inDialplan: 'in1001' }));
    h.accounts.add(makeAccount('1002', { inDialplan: 'in1002' }));
    await addDialplan('in1001', 'const r = await sys.Dial("1002@local"); sys.Log(`outer ${r.status} ${r.outcome}`);');
    await addDialplan('in1002', 'await sys.Respond(486, "Busy Here"); const r = await sys.Dial("1003@local"); sys.Log(`after respond ${r.status}`);');
    await expectOk(await uac('call-uac-fail-486.xml', '1001'));
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.status).toBe(486);
    expect((await logLines(2)).map((l) => l.message).sort()).toEqual(['after respond 487', 'outer 486 busy']);
  });

  it('Callback calls dest1 without SDP, then dest2 with its offer, and bridges them', async () => {
    const first = await startSipp(`${OWN}/callback-uas-first.xml`);
    const second = await startSipp(`${OWN}/callback-uas-second.xml`);
    h.accounts.add(makeAccount('bob', { inDialplan: 'cb' }));
    await addDialplan('cb', `
      const r = await sys.Callback("sip:first@127.0.0.1:${first.port}", "sip:second@127.0.0.1:${second.port}");
      sys.Log("callback " + JSON.stringify(r));
      const calls = await sys.GetCurrentCalls();
      sys.Log("calls " + calls.length);
      await sys.Respond(480, "Called you back");`);
    await expectOk(await uac('call-uac-fail-480.xml', 'bob'), first, second);
    const rows = await h.cdrs.waitFor(2);
    const cb = rows.find((r) => r.dialStrings[0]?.includes('first'))!;
    expect(cb.answeredAt).toBeDefined();
    expect(cb.hungUpBy).toBe('callee');
    expect(cb.legs.map((l) => l.state)).toEqual(['answered', 'answered']);
    expect(logs().map((l) => l.message)).toEqual(['callback {"answered":true,"status":200,"reason":"OK"}', 'calls 2']);
    expect(h.events.filter((e) => e.type === 'call.answered' && e.callId === cb.callId)).toHaveLength(1);
  });

  it('Callback reports the failure of dest1', async () => {
    const busy = await startSipp('call-uas-busy.xml');
    h.accounts.add(makeAccount('bob', { inDialplan: 'cb' }));
    await addDialplan('cb', `
      const r = await sys.Callback("sip:first@127.0.0.1:${busy.port}", "sip:second@127.0.0.1:9");
      sys.Log("callback " + JSON.stringify(r));
      await sys.Respond(480, "x");`);
    await expectOk(await uac('call-uac-fail-480.xml', 'bob'), busy);
    await h.cdrs.waitFor(2);
    expect(logs().map((l) => l.message)).toEqual(['callback {"answered":false,"status":486,"reason":"Busy Here"}']);
  });

  it('Callback counts against the account\'s maxCalls: over it, nothing is dialled', async () => {
    h.accounts.add(makeAccount('bob', { inDialplan: 'cb', maxCalls: 1 }));
    await addDialplan('cb', `
      const r = await sys.Callback("sip:first@127.0.0.1:9", "sip:second@127.0.0.1:9");
      sys.Log("callback " + JSON.stringify(r));
      await sys.Respond(480, "x");`);
    await expectOk(await uac('call-uac-fail-480.xml', 'bob'));
    await h.cdrs.waitFor(1);
    expect(await logLines(1)).toEqual([expect.objectContaining({ message: 'callback {"answered":false,"status":403,"reason":"Too many calls"}' })]);
    expect(h.events.filter((e) => e.type === 'call.created')).toHaveLength(1);
  });
});
