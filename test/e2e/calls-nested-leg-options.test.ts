import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * A call answered through a nested dialplan (1001's Dial rings 1002@local, whose incoming
 * dialplan dials the callee) honours the inner leg's `cd` too: the switch hangs it up.
 */

const { sw, sipp } = useSwitch(['1001', '1002']);

describe('options of a leg answered through a nested dialplan', () => {
  it('the inner Dial\'s cd=1 ends the call with a Reason, although the outer leg has no limit', async () => {
    const callee = await sipp('call-uas-answer.xml');
    await sw.useInDialplan('1002', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}[cd=1]");`);
    await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const before = sw.events.length;
    await expectSippOk(callee, await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '1002', user: '1001' }));
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && sw.events.indexOf(e) >= before);
    expect(ended['hungUpBy']).toBe('system');
    expect(ended['reason']).toBe('Call duration limit reached');
  });
});
