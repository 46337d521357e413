import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSippOk, freeUdpPort, startSipp, startSwitch, type SippProcess, type Switch } from './calls-support.ts';
import { CARRIER_REALM, TRUNK_PASSWORD, TRUNK_USER, startCarrier, type Carrier } from './carrier-support.ts';
import { selfSignedCert } from './harness/index.ts';

/**
 * Trunks over connection transports against the Kamailio carrier listening on TCP and TLS (its
 * tls module, with a self-signed certificate openssl makes for this run, which the switch trusts
 * through PATCHBAY_TLS_CA): the trunk registers with digest and places an outbound call (INVITE
 * challenged, BYE challenged) over TCP, and over TLS, and an inbound call reaches the contact it
 * registered over TCP; Kamailio's log names the protocol of every
 * request it got. A TLS trunk whose certificate the switch does not trust is never used.
 */

let certDir: string;
let sw: Switch;
let carrier: Carrier;
let farPort: number;
const started: SippProcess[] = [];

beforeAll(async () => {
  const { dir, cert, key } = await selfSignedCert('patchbay-trunk-tls-');
  certDir = dir;
  farPort = await freeUdpPort();
  sw = await startSwitch(['1001'], {
    PATCHBAY_SIP_LISTEN: 'udp:127.0.0.1:0,tcp:127.0.0.1:0,tls:127.0.0.1:0',
    PATCHBAY_TLS_CERT: cert,
    PATCHBAY_TLS_KEY: key,
    PATCHBAY_TLS_CA: cert,
  });
  carrier = await startCarrier({ uasAddress: `127.0.0.1:${farPort}`, patchbayAddress: sw.target, tcp: true, tls: { certFile: cert, keyFile: key } });
}, 60_000);

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await sw?.close();
  await carrier?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

async function addTrunk(name: string, serverUri: string): Promise<number> {
  const p = await sw.running.db.providers.add({
    tenantId: sw.tenantId, name, serverUri, username: TRUNK_USER, password: TRUNK_PASSWORD, fromUser: TRUNK_USER, register: true,
    settings: { fromHost: CARRIER_REALM },
  });
  sw.running.sip.providerSource.invalidate();
  await sw.running.sip.providerRegistrations.sync();
  return p.id;
}

async function callThrough(trunk: string, number: string): Promise<string[]> {
  await sw.useOutDialplan('1001', `await sys.Dial(\`\${req.uri.user}@${trunk}\`);`);
  const before = carrier.requests().length;
  const far = await startSipp('provider-uas-answer.xml', { port: farPort });
  const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: number });
  started.push(far, caller);
  const [uas] = await expectSippOk(far, caller);
  expect(uas!.logs).toContain(`ruser=${number}`);
  // Both BYEs (challenged, then with credentials) are in Kamailio's log once it has written them.
  await expect.poll(() => carrier.requests().slice(before).filter((l) => l.startsWith('CARRIER BYE')).length).toBeGreaterThanOrEqual(2);
  return carrier.requests().slice(before);
}

describe('TCP and TLS trunks (Kamailio carrier)', () => {
  it('registers over TCP with digest and calls out over TCP, BYE challenge answered on the same transport', async () => {
    const id = await addTrunk('tcptrunk', `sip:127.0.0.1:${carrier.tcpPort};transport=tcp`);
    const reg = await sw.waitForEvent((e) => e.type === 'provider.registration.registered' && e['providerId'] === id);
    expect(reg['provider']).toBe('tcptrunk');
    // Kamailio's log line can trail the 200 the switch already acted on.
    const registers = () => carrier.requests().filter((l) => l.startsWith('CARRIER REGISTER'));
    await expect.poll(() => registers().length).toBeGreaterThanOrEqual(2);
    expect(registers().every((l) => l.endsWith('proto tcp'))).toBe(true);
    const seen = await callThrough('tcptrunk', '4930501');
    const invites = seen.filter((l) => l.startsWith('CARRIER INVITE'));
    const byes = seen.filter((l) => l.startsWith('CARRIER BYE'));
    expect(invites.length).toBe(2);
    expect(byes.length).toBe(2);
    expect([...invites, ...byes].every((l) => l.endsWith('proto tcp'))).toBe(true);

    // Inbound: the outside world calls the trunk at the carrier, which sends it to the contact
    // the switch registered over TCP (`;transport=tcp`), so it arrives over TCP.
    const officePort = await freeUdpPort();
    await sw.useNamedDialplan('incoming', `sys.Log("in via " + req.provider + " to " + req.uri.user); await sys.Dial("sip:office@127.0.0.1:${officePort}");`);
    // The stack's trace hook is not public: attach to it directly (as test/e2e/tls.test.ts does).
    const inbound: string[] = [];
    (sw.running.sip.stack as unknown as { opts: { onTrace?: (dir: 'in' | 'out', data: Buffer, remote: { transport: string }) => void } }).opts.onTrace = (dir, data, remote) => {
      if (dir === 'in' && data.subarray(0, 7).toString() === 'INVITE ') inbound.push(remote.transport);
    };
    const office = await startSipp('call-uas-answer.xml', { port: officePort });
    const outside = await startSipp('provider-uac-inbound-answer-bye.xml', { remote: carrier.address, service: TRUNK_USER, domain: CARRIER_REALM });
    started.push(office, outside);
    await expectSippOk(office, outside);
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('in via tcptrunk'));
    expect(log['message']).toBe(`in via tcptrunk to tcptrunk-${sw.tenantId}`);
    expect(inbound).toContain('tcp');
    expect((await sw.running.db.providerRegistrations.get(id))?.state).toBe('registered');
    await sw.running.db.providers.remove(id);
    sw.running.sip.providerSource.invalidate();
    await sw.running.sip.providerRegistrations.sync();
  });

  it('registers and calls out over TLS (certificate trusted through PATCHBAY_TLS_CA)', async () => {
    const id = await addTrunk('tlstrunk', `sip:127.0.0.1:${carrier.tlsPort};transport=tls`);
    const reg = await sw.waitForEvent((e) => e.type === 'provider.registration.registered' && e['providerId'] === id);
    expect(reg['provider']).toBe('tlstrunk');
    await expect.poll(() => carrier.requests().filter((l) => l.startsWith('CARRIER REGISTER') && l.endsWith('proto tls')).length).toBeGreaterThanOrEqual(2);
    const seen = await callThrough('tlstrunk', '4930502');
    const invites = seen.filter((l) => l.startsWith('CARRIER INVITE'));
    expect(invites.length).toBe(2);
    expect(seen.filter((l) => l.startsWith('CARRIER BYE')).length).toBe(2);
    expect(seen.every((l) => l.endsWith('proto tls'))).toBe(true);
    await sw.running.db.providers.remove(id);
    sw.running.sip.providerSource.invalidate();
    await sw.running.sip.providerRegistrations.sync();
  });

  it('a TLS trunk whose certificate the switch does not trust is never used: registration fails, nothing reaches the carrier', async () => {
    const other = await startSwitch(['1001'], {
      PATCHBAY_SIP_LISTEN: 'udp:127.0.0.1:0,tls:127.0.0.1:0',
      PATCHBAY_TLS_CERT: join(certDir, 'cert.pem'),
      PATCHBAY_TLS_KEY: join(certDir, 'key.pem'),
    });
    try {
      const before = carrier.requests().length;
      const p = await other.running.db.providers.add({
        tenantId: other.tenantId, name: 'tlstrunk', serverUri: `sip:127.0.0.1:${carrier.tlsPort};transport=tls`, username: TRUNK_USER,
        password: TRUNK_PASSWORD, register: true, settings: { fromHost: CARRIER_REALM },
      });
      other.running.sip.providerSource.invalidate();
      await other.running.sip.providerRegistrations.sync();
      const failed = await other.waitForEvent((e) => e.type === 'provider.registration.failed' && e['providerId'] === p.id);
      expect(String(failed['reason'])).toMatch(/certificate/i);
      expect(carrier.requests().slice(before)).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
