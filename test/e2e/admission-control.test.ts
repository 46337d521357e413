import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * Admission control (issue 13 item 3) with real peers: the sandbox's queue holds one execution
 * here. The test fills it by stopping the sandbox worker (SIGSTOP) and sending one call, so the
 * queue stays full for exactly as long as the test wants, however loaded the machine is. Then
 * - a new out-of-dialog INVITE is answered 503 with Retry-After at once, before any digest
 *   challenge (sipp checks the header);
 * - an established call is not touched: its in-dialog BYE still gets 200.
 */

// The supervisor reads its queue bound from the environment when the config gives none.
process.env['PATCHBAY_SANDBOX_MAX_QUEUED'] = '1';

const { sw, sipp } = useSwitch(['1001', '1002', '1003']);

async function until(condition: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('admission control past saturation', () => {
  it('refuses a new call with 503 and Retry-After while the queue is full; an established call hangs up normally', async () => {
    const sandbox = sw.running.sip.sandbox;
    // A retried attempt shares the switch: start from an idle queue and this attempt's events only.
    await until(() => sandbox.queued === 0, 'an idle sandbox queue');
    sw.events.length = 0;
    const firstCallee = await sipp('call-uas-answer.xml');
    const secondCallee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${firstCallee.port}");`);
    await sw.useOutDialplan('1002', `await sys.Dial("sip:uas@127.0.0.1:${secondCallee.port}");`);
    await sw.useOutDialplan('1003', `await sys.Dial("sip:uas@127.0.0.1:${firstCallee.port}");`);

    // The established caller hangs up 6 s after its ACK; the queue is full long before that.
    const established = await sipp('admission-uac-auth-answer-hold-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const answered = await sw.waitForEvent((e) => e.type === 'call.answered');
    // Its dialplan ends once the Dial is answered; the worker must have finished it before it stops.
    await until(() => sandbox.runningFor(String(sw.tenantId)) === 0, 'the established call\'s dialplan to finish');
    expect(sandbox.queued).toBe(0);
    let queuedWhenEstablishedEnded: number | undefined;
    const unsubscribe = sw.running.events.subscribe({}, (e) => {
      if (e.type === 'call.ended' && e.callId === answered.callId) queuedWhenEstablishedEnded = sandbox.queued;
    });

    const worker = sandbox.pid;
    expect(worker).toBeTypeOf('number');
    process.kill(worker!, 'SIGSTOP');
    try {
      const busy = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1002' });
      await until(() => sandbox.queued === 1, 'the stuck dialplan in the queue');
      const shedBefore = sandbox.shed;
      const refused = await sipp('admission-uac-503.xml', { remote: sw.target, service: '2000', user: '1003' });
      const [refusedResult] = await expectSippOk(refused);
      expect(refusedResult!.logs).toMatch(/retry-after: 2/);
      // Refused before the dialplan was asked for: the supervisor never saw that call.
      expect(sandbox.shed).toBe(shedBefore);

      // The established call's BYE came while the queue was still full, and got its 200.
      await expectSippOk(established);
      await until(() => queuedWhenEstablishedEnded !== undefined, 'the established call to end');
      expect(queuedWhenEstablishedEnded).toBeGreaterThanOrEqual(1);

      // Once the worker runs again, the stuck dialplan dials and the switch takes calls again.
      process.kill(worker!, 'SIGCONT');
      await expectSippOk(busy, firstCallee, secondCallee);
      await until(() => sandbox.queued === 0, 'an idle queue after the worker resumed');
    } finally {
      process.kill(worker!, 'SIGCONT');
      unsubscribe();
    }
  });
});
