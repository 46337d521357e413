import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * Admission control (issue 13 item 3) with real peers: the sandbox's queue holds one execution
 * here, a dialplan that keeps the worker busy fills it, and then
 * - a new out-of-dialog INVITE is answered 503 with Retry-After at once, before any digest
 *   challenge (sipp checks the header);
 * - an established call is not touched: its in-dialog BYE still gets 200.
 */

// The supervisor reads its queue bound from the environment when the config gives none.
process.env['PATCHBAY_SANDBOX_MAX_QUEUED'] = '1';

const { sw, sipp } = useSwitch(['1001', '1002', '1003'], { PATCHBAY_SANDBOX_CPU_MS: '10000' });

async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('admission control past saturation', () => {
  it('refuses a new call with 503 and Retry-After while the queue is full; an established call hangs up normally', async () => {
    const sandbox = sw.running.sip.sandbox;
    const firstCallee = await sipp('call-uas-answer.xml');
    const secondCallee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${firstCallee.port}");`);
    // Busy in the worker for 3 s before it dials: the queue stays full meanwhile.
    await sw.useOutDialplan('1002', `const end = Date.now() + 3000; while (Date.now() < end) {}\nawait sys.Dial("sip:uas@127.0.0.1:${secondCallee.port}");`);
    await sw.useOutDialplan('1003', `await sys.Dial("sip:uas@127.0.0.1:${firstCallee.port}");`);

    const established = await sipp('admission-uac-auth-answer-hold-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    await sw.waitForEvent((e) => e.type === 'call.answered');
    expect(sandbox.queued).toBe(0);

    const busy = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1002' });
    await until(() => sandbox.queued === 1, 'the busy dialplan in the queue');
    const shedBefore = sandbox.shed;
    const refused = await sipp('admission-uac-503.xml', { remote: sw.target, service: '2000', user: '1003' });
    const [refusedResult] = await expectSippOk(refused);
    expect(refusedResult!.logs).toMatch(/retry-after: 2/);
    // Refused before the dialplan was asked for: the supervisor never saw that call.
    expect(sandbox.shed).toBe(shedBefore);

    // The BYE of the established call came while the queue was still full.
    await expectSippOk(established);
    expect(sandbox.queued).toBe(1);

    // Once the busy dialplan dials, the switch takes calls again.
    await expectSippOk(busy, firstCallee, secondCallee);
    expect(sandbox.queued).toBe(0);
  });
});
