import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeUdpPort, useSwitch } from './calls-support.ts';
import { CARRIER_REALM, TRUNK_PASSWORD, TRUNK_USER, startCarrier, type Carrier } from './carrier-support.ts';

/**
 * The registration agent against a real registrar: Kamailio challenges the REGISTER (401, digest
 * from its subscriber table) and grants only 2 s, so the refresh at 80 % comes quickly.
 */

const { sw } = useSwitch(['1001']);
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
