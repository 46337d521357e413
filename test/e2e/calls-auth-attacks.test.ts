import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * The attacker's side of placing calls (issue "Security"): a From in the tenant's domain must
 * prove itself with digest, and the answers must not tell an existing account from a guessed one.
 */

const { sw, sipp } = useSwitch(['1001']);

describe('placing calls as an attacker', () => {
  it('a guessed user and a wrong password get the same 407 then 403, and no dialplan runs', async () => {
    await sw.useOutDialplan('1001', 'sys.Log("outgoing dialplan ran"); await sys.Respond(480, "x");');
    const before = sw.events.length;
    await expectSippOk(await sipp('e2e-uac-auth-fail-403.xml', { remote: sw.target, service: '0900123456', user: 'guess', password: 'whatever-1' }));
    await expectSippOk(await sipp('e2e-uac-auth-fail-403.xml', { remote: sw.target, service: '0900123456', user: '1001', password: 'wrong-password' }));
    const after = sw.events.slice(before);
    expect(after.filter((e) => e.type === 'call.created')).toEqual([]);
    expect(after.filter((e) => e.type === 'dialplan.log')).toEqual([]);
  });
});
