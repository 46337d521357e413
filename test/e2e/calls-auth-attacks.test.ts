import { describe, expect, it } from 'vitest';
import { DOMAIN, expectSippOk, useSwitch } from './calls-support.ts';
import { registerText } from './raw-sip-client.ts';
import { RecordingUdpPeer } from './security-support.ts';

/**
 * The attacker's side of placing calls (issue "Security"): a From in the tenant's domain must
 * prove itself with digest, and the answers must not tell an existing account from a guessed one.
 */

const { sw, sipp } = useSwitch(['1001'], { PATCHBAY_RATE_LIMIT_PER_SOURCE: '20', PATCHBAY_RATE_LIMIT_BURST: '40' });

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

  it('while a REGISTER flood from another address is dropped by its rate limit, a phone places a call', async () => {
    await sw.useOutDialplan('1001', 'sys.Log("outgoing dialplan ran"); await sys.Respond(480, "x");');
    const flooder = await RecordingUdpPeer.open('127.0.0.7');
    const port = Number(sw.target.split(':')[1]);
    let flooding = true;
    let sent = 0;
    const flood = (async () => {
      // Bounded: at most 2000 datagrams, stopped as soon as the call is over.
      while (flooding && sent < 2000) {
        for (let k = 0; k < 20; k++, sent++) {
          await flooder.send(registerText({ user: `u${sent}`, domain: DOMAIN, transport: 'udp', localAddress: flooder.address, localPort: flooder.port }), port);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 200));
      const before = sw.events.length;
      await expectSippOk(await sipp('e2e-uac-auth-fail-480.xml', { remote: sw.target, service: '2002', user: '1001' }));
      expect(sw.events.slice(before).some((e) => e.type === 'dialplan.log' && JSON.stringify(e).includes('outgoing dialplan ran'))).toBe(true);
    } finally {
      flooding = false;
      await flood;
      flooder.close();
    }
    expect(sent).toBeGreaterThan(200);
    expect(flooder.received.length).toBeLessThan(sent / 2);
    expect(sw.running.sip.stack.securityCounters.rateLimited).toBeGreaterThan(100);
  });
});
