import { createSocket, type Socket } from 'node:dgram';
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
/** A server target that swallows everything: requests it got, by method. */
let silent: Socket;
const silentGot: string[] = [];
/** Read by the DNS server at each query: filled once the carrier's port is known. */
const zone: TinyZone = {};

beforeAll(async () => {
  deadPort = await freeUdpPort();
  farPort = await freeUdpPort();
  silent = createSocket('udp4');
  silent.on('message', (m) => silentGot.push(m.toString('utf8').split(' ', 1)[0]!));
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  dns = await startTinyDns(zone);
  sw = await startSwitch(['1001'], { PATCHBAY_DNS_SERVERS: dns.address });
  carrier = await startCarrier({ uasAddress: `127.0.0.1:${farPort}`, patchbayAddress: sw.target });
  zone.srv = {
    '_sip._udp.carrier.test': [
      { priority: 20, weight: 0, port: carrier.port, target: 'b.carrier.test' },
      { priority: 10, weight: 0, port: deadPort, target: 'a.carrier.test' },
    ],
    '_sip._udp.silent.test': [
      { priority: 10, weight: 0, port: silent.address().port, target: 'a.silent.test' },
      { priority: 20, weight: 0, port: carrier.port, target: 'b.silent.test' },
    ],
  };
  zone.a = { 'a.carrier.test': ['127.0.0.1'], 'b.carrier.test': ['127.0.0.1'], 'a.silent.test': ['127.0.0.1'], 'b.silent.test': ['127.0.0.1'] };
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
  silent?.close();
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

  it('a first target that never answers (a silent UDP socket) is given up after the provisional timeout; the next takes the call', async () => {
    const provider = await sw.running.db.providers.add({
      tenantId: sw.tenantId, name: 'silenttrunk', serverUri: 'sip:silent.test', username: TRUNK_USER, password: TRUNK_PASSWORD,
      fromUser: TRUNK_USER, settings: { fromHost: CARRIER_REALM, provisionalTimeoutMs: 1000 },
    });
    sw.running.sip.providerSource.invalidate();
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@silenttrunk`);');
    silentGot.length = 0;
    const far = await startSipp('provider-uas-answer.xml', { port: farPort });
    started.push(far);
    const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '4930222', timeoutSeconds: 20 });
    started.push(caller);
    const [uas] = await expectSippOk(far, caller);
    expect(uas!.logs).toContain('ruser=4930222');
    expect(silentGot.length).toBeGreaterThan(0);
    expect(new Set(silentGot)).toEqual(new Set(['INVITE']));
    // Given up means no more retransmissions to it (Timer B would keep them going for 32 s).
    const seen = silentGot.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(silentGot.length).toBe(seen);
    const cdr = (await sw.waitForCdrs(2)).find((c) => c.dialStrings.some((d) => d.includes('silenttrunk')));
    expect(cdr?.legs.map((l) => l.status)).toEqual([200]);
    await sw.running.db.providers.remove(provider.id);
  });

  it('a target the OPTIONS pings found down is tried only after the healthy ones: no INVITE reaches it', async () => {
    const provider = await sw.running.db.providers.add({
      tenantId: sw.tenantId, name: 'pingedtrunk', serverUri: 'sip:silent.test', username: TRUNK_USER, password: TRUNK_PASSWORD,
      fromUser: TRUNK_USER, settings: { fromHost: CARRIER_REALM, pingIntervalSeconds: 1 },
    });
    sw.running.sip.providerSource.invalidate();
    await sw.running.sip.providerRegistrations.sync();
    const down = await sw.waitForEvent((e) => e.type === 'provider.target.down' && e['providerId'] === provider.id, 15_000);
    expect(down['target']).toBe(`udp:127.0.0.1:${silent.address().port}`);
    // Kamailio answers its pings, so the provider as a whole stays up.
    expect(sw.events.some((e) => e.type === 'provider.down' && e['providerId'] === provider.id)).toBe(false);
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@pingedtrunk`);');
    silentGot.length = 0;
    const far = await startSipp('provider-uas-answer.xml', { port: farPort });
    started.push(far);
    const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '4930333', timeoutSeconds: 20 });
    started.push(caller);
    const [uas] = await expectSippOk(far, caller);
    expect(uas!.logs).toContain('ruser=4930333');
    expect(silentGot).not.toContain('INVITE');
    expect(silentGot).toContain('OPTIONS');
    await sw.running.db.providers.remove(provider.id);
    sw.running.sip.providerSource.invalidate();
    await sw.running.sip.providerRegistrations.sync();
  });
});
