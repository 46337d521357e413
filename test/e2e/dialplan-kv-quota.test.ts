import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * The per-tenant key/value quota (issue 8 item 13) through the real switch: a dialplan that a
 * caller drives to store a key per call (here ten in one call) is stopped at the tenant's quota
 * with a clear error the script can catch, and the call itself goes on.
 */
const { sw, sipp } = useSwitch(['1001'], { PATCHBAY_KV_MAX_KEYS: '5' });

describe('the tenant key/value quota', () => {
  it('refuses the sixth key with an error the dialplan sees; the call still connects', async () => {
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', [
      'let stored = 0;',
      'try { for (let i = 0; i < 10; i++) { await sys.DBWrite("caller-" + i, req.from.uri.user ?? ""); stored++; } }',
      'catch (e) { sys.Log("refused after " + stored + ": " + (e as Error).message); }',
      `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`,
    ].join('\n'));
    const caller = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    await expectSippOk(caller, callee);
    const refused = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('refused after'));
    expect(refused['message']).toMatch(/^refused after 5: .*full: at most 5 keys/);
    expect(await sw.running.db.kv.keys(sw.tenantId)).toHaveLength(5);
  });
});
