import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * RFC 6026 §7.2 against a real peer: the callee (sipp) answers from fork A, then a second fork B
 * answers too, then A's 200 comes again. The switch keeps A's dialog (a B2BUA keeps one), ACKs
 * and BYEs B's, ACKs A's retransmission again, and the caller's call goes on and ends with its BYE.
 * B's 200 may also come after Timer M, when the INVITE transaction is gone: B's dialog is still
 * ACKed and ended (fork A's ACK would not stop B's retransmissions).
 */

// T1 100 ms: Timer M (64×T1) passes in 6.4 s instead of 32.
const { sw, sipp } = useSwitch(['1001'], { PATCHBAY_SIP_T1: '100' });

describe('2xx after the first to an outgoing INVITE, sipp on both sides', () => {
  it("ACKs a retransmitted 200 again, ACKs and BYEs a second fork's 200, and the call ends normally", async () => {
    const callee = await sipp('forked-uas-answer-second-fork-retransmit.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const caller = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const [calleeRun] = await expectSippOk(callee, caller);
    expect(calleeRun!.logs).toMatch(/ACK for fork A[\s\S]*ACK for fork B[\s\S]*BYE for fork B: tag=forkB, Reason: SIP;cause=200[\s\S]*ACK again for fork A[\s\S]*BYE for fork A/);
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.status).toBe('200');
    expect(cdr!.hangupSide).toBe('caller');
    expect(cdr!.legs).toHaveLength(1);
    expect(cdr!.legs[0]!.status).toBe(200);
  });

  it("ACKs and BYEs a second fork's 200 that comes after Timer M, in that fork's dialog", async () => {
    // The scenario's 8 s pause outlasts the transaction only with the configured T1.
    expect(sw.running.sip.stack.timers.TIMER_M).toBe(6_400);
    const callee = await sipp('forked-uas-second-fork-after-timer-m.xml', { timeoutSeconds: 30 });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const caller = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001', timeoutSeconds: 30 });
    // The caller's run ends with fork A's BYE relayed to it: the call went on with fork A.
    const [calleeRun] = await expectSippOk(callee, caller);
    expect(calleeRun!.logs).toMatch(/ACK for fork A[\s\S]*ACK for fork B: tag=forkB[\s\S]*BYE for fork B: tag=forkB, Reason: SIP;cause=200/);
  }, 45_000);
});
