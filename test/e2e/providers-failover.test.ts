import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSippOk, freeUdpPort, startSipp, startSwitch, type SippProcess, type Switch } from './calls-support.ts';
import { CARRIER_REALM, TRUNK_PASSWORD, TRUNK_USER, startCarrier, type Carrier } from './carrier-support.ts';
import { startTinyDns, type TinyDns, type TinyZone } from './fixtures/tiny-dns-server.ts';

/**
 * RFC 3263 failover within one provider leg: `sip:carrier.test` has two SRV targets in a zone
 * served by a tiny DNS server on loopback; the first (priority 10) answers 503, the second
 * (priority 20, the Kamailio carrier) takes the call.
 */

let dns: TinyDns;
let sw: Switch;
let carrier: Carrier;
let deadPort: number;
let farPort: number;
const started: SippProcess[] = [];
/** Read by the DNS server at each query: filled once the carrier's port is known. */
const zone: TinyZone = {};

beforeAll(async () => {
  deadPort = await freeUdpPort();
  farPort = await freeUdpPort();
  dns = await startTinyDns(zone);
  sw = await startSwitch(['1001'], { PATCHBAY_DNS_SERVERS: dns.address });
  carrier = await startCarrier({ uasAddress: `127.0.0.1:${farPort}`, patchbayAddress: sw.target });
  zone.srv = {
    '_sip._udp.carrier.test': [
      { priority: 20, weight: 0, port: carrier.port, target: 'b.carrier.test' },
      { priority: 10, weight: 0, port: deadPort, target: 'a.carrier.test' },
    ],
  };
  zone.a = { 'a.carrier.test': ['127.0.0.1'], 'b.carrier.test': ['127.0.0.1'] };
  await sw.running.db.providers.add({
    tenantId: sw.tenantId, name: 'carrier', serverUri: 'sip:carrier.test', username: TRUNK_USER, password: TRUNK_PASSWORD,
    fromUser: TRUNK_USER, settings: { fromHost: CARRIER_REALM },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await sw?.close();
  await carrier?.stop();
  await dns?.close();
});

describe('RFC 3263 failover', () => {
  it('the first SRV target answers 503, the next one within the same leg takes the call', async () => {
    await sw.useOutDialplan('1001', 'const r = await sys.Dial(`${req.uri.user}@carrier`); sys.Log(`leg ${r.status}`);');
    const dead = await startSipp('provider-uas-503.xml', { port: deadPort });
    const far = await startSipp('provider-uas-answer.xml', { port: farPort });
    started.push(dead, far);
    const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '4930111', user: '1001' });
    started.push(caller);
    const [, uas] = await expectSippOk(dead, far, caller);
    expect(uas!.logs).toContain('ruser=4930111');
    expect(dns.queries).toEqual(expect.arrayContaining(['NAPTR carrier.test', 'SRV _sip._udp.carrier.test', 'A a.carrier.test', 'A b.carrier.test']));
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.legs).toHaveLength(1);
    expect(cdr!.legs[0]!.status).toBe(200);
  });
});
