import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * A switch as shipped (no PATCHBAY_ALLOWED_LEG_NETWORKS): a dialplan, or a remote party, naming
 * an internal service as a leg must not make the switch connect to it.
 */

const { sw, sipp } = useSwitch(['1001'], { PATCHBAY_ALLOWED_LEG_NETWORKS: '' });

let tcp: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (tcp ? tcp.close(() => r()) : r()));
  tcp = undefined;
});

/** A TCP service on loopback (think Redis on 6379) that records every connection it gets. */
async function internalService(): Promise<{ port: number; connections: Socket[] }> {
  const connections: Socket[] = [];
  tcp = createServer((s) => { connections.push(s); s.destroy(); });
  await new Promise<void>((r) => tcp!.listen(0, '127.0.0.1', () => r()));
  const address = tcp.address();
  if (!address || typeof address === 'string') throw new Error('no TCP port');
  return { port: address.port, connections };
}

describe('legs to internal addresses, no allow-list', () => {
  it('sip:x@127.0.0.1:<tcp service>;transport=tcp fails 403 and nothing connects', async () => {
    const service = await internalService();
    await sw.useOutDialplan('1001', `const r = await sys.Dial("<sip:x@127.0.0.1:${service.port};transport=tcp>"); sys.Log("leg " + r.status + " " + r.reason);`);
    await expectSippOk(await sipp('e2e-uac-auth-fail-403.xml', { remote: sw.target, service: '2000', user: '1001' }));
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('leg '));
    expect(log['message']).toBe('leg 403 Destination not allowed');
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.legs.map((l) => [l.status, l.reason])).toEqual([[403, 'Destination not allowed']]);
    await new Promise((r) => setTimeout(r, 200));
    expect(service.connections).toHaveLength(0);
  });

  it('fh= naming another domain makes the Dial throw, nothing is dialled', async () => {
    const service = await internalService();
    await sw.useOutDialplan('1001', [
      'try {',
      `  await sys.Dial("sip:x@203.0.113.9[fh=evil.example]&<sip:x@127.0.0.1:${service.port};transport=tcp>");`,
      '} catch (e) { sys.Log("dial threw: " + (e as Error).message); sys.Respond(403, "From host"); }',
    ].join('\n'));
    await expectSippOk(await sipp('e2e-uac-auth-fail-403.xml', { remote: sw.target, service: '2001', user: '1001' }));
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('dial threw'));
    expect(log['message']).toMatch(/^dial threw: Dial: fh=evil.example is not a domain of this tenant/);
    expect(sw.events.filter((e) => e.type === 'leg.ringing' && e['callId'] === log['callId'])).toEqual([]);
    expect(service.connections).toHaveLength(0);
  });
});
