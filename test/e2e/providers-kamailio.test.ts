import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSippOk, freeUdpPort, useSwitch } from './calls-support.ts';
import { CARRIER_REALM, TRUNK_PASSWORD, TRUNK_USER, startCarrier, type Carrier } from './carrier-support.ts';

/**
 * Outbound provider legs against a real carrier: Kamailio challenges the trunk's INVITE (407,
 * digest from its subscriber table) and its in-dialog BYE, and relays to a sipp far end. The
 * tenant's destination policy keeps premium and satellite numbers from ever reaching it.
 */

const { sw, sipp } = useSwitch(['1001']);
let carrier: Carrier;
let uasPort: number;

beforeAll(async () => {
  uasPort = await freeUdpPort();
  carrier = await startCarrier({ uasAddress: `127.0.0.1:${uasPort}`, patchbayAddress: sw.target });
  await sw.running.db.providers.add({
    tenantId: sw.tenantId, name: 'carrier', serverUri: `sip:127.0.0.1:${carrier.port}`,
    username: TRUNK_USER, password: TRUNK_PASSWORD, fromUser: TRUNK_USER,
    customHeaders: { 'X-Trunk-Tag': 'acme' },
    settings: { fromHost: CARRIER_REALM, assertIdentity: true, privacy: 'id', numberFormat: 'e164', countryCode: '49' },
  });
  sw.running.sip.providerSource.invalidate();
}, 30_000);

afterAll(async () => {
  await carrier?.stop();
});

function caller(scenario: string, service: string) {
  return sipp(scenario, { remote: sw.target, service, user: '1001' });
}

describe('outbound calls through a provider (Kamailio carrier)', () => {
  it('sys.Dial("${dst}@carrier"): 407 answered, E.164 number, trunk From, PAI, Privacy, custom header; the BYE challenge answered too', async () => {
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@carrier`);');
    const before = carrier.requests().length;
    const farEnd = await sipp('provider-uas-answer.xml', { port: uasPort });
    const [uas] = await expectSippOk(farEnd, await caller('e2e-uac-auth-answer-bye.xml', '030123456'));
    expect(uas!.logs).toContain('ruser=+4930123456');
    expect(uas!.logs).toMatch(/from=.*<sip:pbx@carrier\.test>;tag=/);
    expect(uas!.logs).toMatch(/pai=.*<sip:pbx@carrier\.test>/);
    expect(uas!.logs).toMatch(/privacy= ?id\n/);
    expect(uas!.logs).toMatch(/xtag= ?acme\n/);
    const seen = carrier.requests().slice(before);
    // Challenged once and answered: two INVITEs, and the same for the BYE Patchbay sent.
    expect(seen.filter((l) => l.startsWith('CARRIER INVITE')).length).toBe(2);
    expect(seen.filter((l) => l.startsWith('CARRIER BYE')).length).toBe(2);
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.legs[0]!.status).toBe(200);
  });

  it('destination policy: +882… gets 403, the console names the rule, call.blocked raised, nothing reaches the carrier', async () => {
    await sw.useOutDialplan('1001', 'const r = await sys.Dial(`${req.uri.user}@carrier`); sys.Log(`leg ${r.status} ${r.reason}`);');
    const before = carrier.requests().length;
    await expectSippOk(await caller('e2e-uac-auth-fail-403.xml', '+88216001234'));
    const blocked = await sw.waitForEvent((e) => e.type === 'call.blocked' && e['number'] === '+88216001234');
    expect(blocked['rule']).toBe('denied prefix +882');
    expect(blocked['provider']).toBe('carrier');
    const line = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).includes('blocked'));
    expect(line['message']).toBe('call to +88216001234 via carrier blocked: denied prefix +882');
    const leg = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('leg 403'));
    expect(leg['message']).toBe('leg 403 Destination blocked by policy');
    // The national form of a denied range is caught too (00 = international prefix).
    await expectSippOk(await caller('e2e-uac-auth-fail-403.xml', '0088216001234'));
    await new Promise((r) => setTimeout(r, 300));
    expect(carrier.requests().slice(before)).toEqual([]);
  });
});

describe('in-dialog and CANCEL after a challenge', () => {
  it('a relayed re-INVITE (hold) challenged by the carrier is answered with the trunk credentials', async () => {
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@carrier`);');
    const before = carrier.requests().length;
    const farEnd = await sipp('provider-uas-hold.xml', { port: uasPort });
    await expectSippOk(farEnd, await caller('e2e-uac-auth-hold.xml', '030555'));
    const invites = carrier.requests().slice(before).filter((l) => l.startsWith('CARRIER INVITE'));
    // Initial INVITE and the re-INVITE, each challenged once and sent again with credentials.
    expect(invites.length).toBe(4);
  });

  it('CANCEL after a challenge matches the authenticated INVITE; the far end sees it and answers 487', async () => {
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@carrier`);');
    const before = carrier.requests().length;
    const farEnd = await sipp('call-uas-ring-cancel.xml', { port: uasPort });
    await expectSippOk(farEnd, await caller('e2e-uac-auth-cancel.xml', '030777'));
    const seen = carrier.requests().slice(before);
    expect(seen.filter((l) => l.startsWith('CARRIER INVITE')).length).toBe(2);
    expect(seen.filter((l) => l.startsWith('CARRIER CANCEL')).length).toBe(1);
  });
});

describe('a carrier that challenges with SHA-256 (RFC 8760)', () => {
  let sha: Carrier | undefined;
  afterAll(async () => {
    await sha?.stop();
  });

  it('the trunk answers algorithm=SHA-256 and the call goes through', async () => {
    const port = await freeUdpPort();
    sha = await startCarrier({ uasAddress: `127.0.0.1:${port}`, patchbayAddress: sw.target, algorithm: 'SHA-256' });
    await sw.running.db.providers.add({
      tenantId: sw.tenantId, name: 'carrier256', serverUri: `sip:127.0.0.1:${sha.port}`,
      username: TRUNK_USER, password: TRUNK_PASSWORD, fromUser: TRUNK_USER, settings: { fromHost: CARRIER_REALM },
    });
    sw.running.sip.providerSource.invalidate();
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@carrier256`);');
    const farEnd = await sipp('provider-uas-answer.xml', { port });
    const [uas] = await expectSippOk(farEnd, await caller('e2e-uac-auth-answer-bye.xml', '4930999'));
    expect(uas!.logs).toContain('ruser=4930999');
    expect(sha.output).toMatch(/CARRIER INVITE[^\n]*\n[^]*CARRIER INVITE/);
    expect(sha.output).not.toMatch(/auth.*(failed|invalid)/i);
  });
});

describe('the destination policy applies to callbacks too', () => {
  it('sys.Callback to a +882 number via the provider fails 403 without a packet to the carrier', async () => {
    await sw.useOutDialplan('1001', 'const r = await sys.Callback("+88216009999@carrier", "030123@carrier"); sys.Log(`callback ${r.status}`); sys.Respond(480, "Done");');
    const before = carrier.requests().length;
    await expectSippOk(await caller('e2e-uac-auth-fail-480.xml', '2000'));
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('callback '));
    expect(log['message']).toBe('callback 403');
    const blocked = await sw.waitForEvent((e) => e.type === 'call.blocked' && e['number'] === '+88216009999');
    expect(blocked['rule']).toBe('denied prefix +882');
    expect(carrier.requests().slice(before)).toEqual([]);
  });
});

describe('provider health (OPTIONS pings)', () => {
  it('a provider whose pings go unanswered is marked down and skipped; the next group takes the call', async () => {
    const deadPort = await freeUdpPort();
    const dead = await sw.running.db.providers.add({
      tenantId: sw.tenantId, name: 'deadtrunk', serverUri: `sip:127.0.0.1:${deadPort}`, settings: { pingIntervalSeconds: 1 },
    });
    const live = await sw.running.db.providers.findByName(sw.tenantId, 'carrier');
    await sw.running.db.providers.update(live!.id, { settings: { pingIntervalSeconds: 1 } });
    sw.running.sip.providerSource.invalidate();
    await sw.running.sip.providerRegistrations.sync();
    const down = await sw.waitForEvent((e) => e.type === 'provider.down' && e['providerId'] === dead.id, 15_000);
    expect(down['reason']).toBe('no answer');
    // Kamailio answers the carrier's pings (405 is an answer): never down.
    expect(sw.events.some((e) => e.type === 'provider.down' && e['providerId'] === live!.id)).toBe(false);
    await sw.useOutDialplan('1001', 'await sys.Dial(`${req.uri.user}@deadtrunk|${req.uri.user}@carrier`);');
    const farEnd = await sipp('provider-uas-answer.xml', { port: uasPort });
    await expectSippOk(farEnd, await caller('e2e-uac-auth-answer-bye.xml', '030444'));
    const cdr = (await sw.waitForCdrs(1))[0]!;
    expect(cdr.legs.map((l) => [l.status, l.reason ?? null])).toEqual([[503, 'Provider down'], [200, null]]);
    await sw.running.db.providers.update(live!.id, { settings: { pingIntervalSeconds: 0 } });
    await sw.running.db.providers.remove(dead.id);
    await sw.running.sip.providerRegistrations.sync();
  });
});
