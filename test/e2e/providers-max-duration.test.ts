import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY } from '../../db/index.ts';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * The destination policy's maximum duration of a provider call, on the wire: a phone calls a
 * number through a trunk (a sipp UAS on loopback, no carrier in between), both answer and wait;
 * at the limit the switch sends BYE to both sides (each sipp exits 0 only after a BYE) and the
 * CDR says the system ended it for the duration limit.
 */

const { sw, sipp } = useSwitch(['1001']);

describe('provider call maximum duration', () => {
  it('the switch ends an answered provider call at maxDurationSeconds with BYE to both sides; the CDR says so', async () => {
    const trunk = await sipp('provider-uas-answer.xml');
    const provider = await sw.running.db.providers.add({ tenantId: sw.tenantId, name: 'shorttrunk', serverUri: `sip:127.0.0.1:${trunk.port}` });
    await sw.running.db.callPolicies.update(sw.tenantId, { ...DEFAULT_CALL_POLICY, maxDurationSeconds: 1 });
    sw.running.sip.providerSource.invalidate();
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@shorttrunk`);');

    const before = sw.events.length;
    const caller = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '4930555', user: '1001', timeoutSeconds: 15 });
    const [uas] = await expectSippOk(trunk, caller);
    expect(uas!.logs).toContain('ruser=4930555');

    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && sw.events.indexOf(e) >= before);
    expect(ended['hungUpBy']).toBe('system');
    expect(ended['reason']).toBe('Call duration limit reached');
    const cdr = await sw.waitForCdr(String(ended['callId']));
    expect(cdr.answeredAt).not.toBeNull();
    expect(cdr.dialStrings).toEqual(['4930555@shorttrunk']);
    expect(cdr.legs.map((l) => [l.state, l.status])).toEqual([['answered', 200]]);
    expect(cdr.hangupSide).toBe('system');
    expect(cdr.hangupCause).toBe('Call duration limit reached');

    await sw.running.db.callPolicies.reset(sw.tenantId);
    await sw.running.db.providers.remove(provider.id);
    sw.running.sip.providerSource.invalidate();
  });
});
