import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSippOk, freeUdpPort, useSwitch } from './calls-support.ts';
import { CARRIER_REALM, TRUNK_PASSWORD, TRUNK_USER, startCarrier, type Carrier } from './carrier-support.ts';

/**
 * The registration agent against a real registrar: Kamailio challenges the REGISTER (401, digest
 * from its subscriber table) and grants only 2 s, so the refresh at 80 % comes quickly.
 */

const { sw, sipp } = useSwitch(['1001']);
let carrier: Carrier;

beforeAll(async () => {
  carrier = await startCarrier({ uasAddress: `127.0.0.1:${await freeUdpPort()}`, patchbayAddress: sw.target, maxExpires: 2 });
}, 30_000);

afterAll(async () => {
  // Unregistered while the carrier still runs (after-hooks run in reverse order).
  await sw.running.sip.providerRegistrations.stop();
  await carrier?.stop();
});

describe('provider registration (Kamailio registrar)', () => {
  it('registers with digest, honours the granted expiry and refreshes; state in the database', async () => {
    const p = await sw.running.db.providers.add({
      tenantId: sw.tenantId, name: 'carrier', serverUri: `sip:127.0.0.1:${carrier.port}`, username: TRUNK_USER, password: TRUNK_PASSWORD,
      register: true, registerExpiry: 60, settings: { fromHost: CARRIER_REALM },
    });
    await sw.running.sip.providerRegistrations.sync();
    const first = await sw.waitForEvent((e) => e.type === 'provider.registration.registered' && e['providerId'] === p.id);
    // Kamailio granted 2 s of the 60 asked for: the binding expires then, so a refresh follows.
    expect(Number(first['expiresAt']) - first.at).toBeLessThanOrEqual(2_000);
    await sw.waitForEvent((e) => e.type === 'provider.registration.registered' && e['providerId'] === p.id && e.seq > first.seq, 10_000);
    const reg = await sw.running.db.providerRegistrations.get(p.id);
    expect(reg?.state).toBe('registered');
    const registers = () => carrier.requests().filter((l) => l.startsWith('CARRIER REGISTER') && l.includes('from sip:'));
    // Each REGISTER was challenged and answered: two lines per registration, at least two registrations.
    await expect.poll(() => registers().length).toBeGreaterThanOrEqual(4);
    expect(registers().every((l) => l.includes(`from sip:${TRUNK_USER}@${CARRIER_REALM}`))).toBe(true);
  });

  it('a 403 (wrong password) stops the retries and marks the provider as needing attention', async () => {
    const p = await sw.running.db.providers.add({
      tenantId: sw.tenantId, name: 'badpw', serverUri: `sip:127.0.0.1:${carrier.port}`, username: TRUNK_USER, password: 'wrong',
      register: true, registerExpiry: 60, settings: { fromHost: CARRIER_REALM },
    });
    await sw.running.sip.providerRegistrations.sync();
    const failed = await sw.waitForEvent((e) => e.type === 'provider.registration.failed' && e['providerId'] === p.id);
    expect(failed).toMatchObject({ status: 403, needsAttention: true, reason: '403 Forbidden' });
    await expect.poll(async () => (await sw.running.db.providerRegistrations.get(p.id))?.state).toBe('needs-attention');
    const client = sw.running.sip.providerRegistrations.registrations().find((c) => c.provider.id === p.id);
    expect(client?.state).toBe('needs-attention');
  });
});

describe('inbound calls from the provider', () => {
  // One office port for the file: the switch keeps compiled dialplans in memory by name.
  let officePort: number | undefined;
  async function incoming(): Promise<number> {
    if (officePort) return officePort;
    const uas = await freeUdpPort();
    await sw.useNamedDialplan('incoming', `sys.Log("in via " + req.provider + " did " + (req.did ?? "-") + " to " + req.uri.user); await sys.Dial("sip:office@127.0.0.1:${uas}");`);
    officePort = uas;
    return uas;
  }

  it('a call to the registered contact runs the tenant\'s incoming dialplan with req.provider', async () => {
    const p = await sw.running.db.providers.findByName(sw.tenantId, 'carrier');
    await sw.waitForEvent((e) => e.type === 'provider.registration.registered' && e['providerId'] === p!.id);
    const port = await incoming();
    const office = await sipp('call-uas-answer.xml', { port });
    // The outside world calls the trunk's number at the carrier; Kamailio sends it to the contact Patchbay registered.
    await expectSippOk(office, await sipp('provider-uac-inbound-answer-bye.xml', { remote: carrier.address, service: TRUNK_USER, domain: CARRIER_REALM }));
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('in via carrier did -'));
    expect(log['message']).toBe(`in via carrier did - to carrier-${sw.tenantId}`);
  });

  it('a call to a DID routed by the carrier runs it with req.did', async () => {
    const p = await sw.running.db.providers.findByName(sw.tenantId, 'carrier');
    await sw.running.db.dids.add({ number: '+4930123456', tenantId: sw.tenantId, providerId: p!.id });
    sw.running.sip.inboundProviders.invalidate();
    const port = await incoming();
    const office = await sipp('call-uas-answer.xml', { port });
    await expectSippOk(office, await sipp('provider-uac-inbound-answer-bye.xml', { remote: carrier.address, service: '+4930123456', domain: CARRIER_REALM }));
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).includes('did +4930123456'));
    expect(log['message']).toBe('in via carrier did +4930123456 to +4930123456');
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.direction).toBe('inbound');
  });

  it('the same DID sent straight to the switch by someone who is not its provider gets 403', async () => {
    const other = await sw.running.db.providers.add({ tenantId: sw.tenantId, name: 'other', serverUri: 'sip:127.0.0.2:5060' });
    await sw.running.db.dids.add({ number: '+4930999000', tenantId: sw.tenantId, providerId: other.id });
    sw.running.sip.inboundProviders.invalidate();
    const before = sw.events.filter((e) => e.type === 'call.created').length;
    await expectSippOk(await sipp('provider-uac-impostor-403.xml', { remote: sw.target, service: '+4930999000', domain: '127.0.0.1' }));
    expect(sw.events.filter((e) => e.type === 'call.created').length).toBe(before);
  });
});
