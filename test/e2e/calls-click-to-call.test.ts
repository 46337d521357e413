import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, PASSWORD, expectSippOk, freeUdpPort, registerPhone, restApi, useSwitch } from './calls-support.ts';

/**
 * Click-to-call over the REST API against the real switch (RFC 3725 flow I, the sys.Callback
 * machinery): POST /api/v1/calls rings the `from` account's registered sipp phone with no SDP,
 * then the `to` destination (another registered sipp) with the first phone's offer, and
 * bridges them; a BYE from one ends both and a CDR is written. A member may only call from
 * their own accounts, another tenant's account is 404, and a premium/satellite number via a
 * provider is refused before any phone rings or any packet reaches the provider.
 */

const { sw, sipp } = useSwitch(['1001', '1002']);
const { tokenFor, api } = restApi(sw);
/** Stands in for the provider's server: every datagram it gets is kept, and there must be none. */
let carrierSocket: Socket;
const carrierPackets: string[] = [];

beforeAll(async () => {
  carrierSocket = createSocket('udp4');
  carrierSocket.on('message', (m) => carrierPackets.push(m.toString('utf8')));
  await new Promise<void>((resolve) => carrierSocket.bind(0, '127.0.0.1', resolve));
  await sw.running.db.providers.add({ tenantId: sw.tenantId, name: 'carrier', serverUri: `sip:127.0.0.1:${carrierSocket.address().port}`, username: 'pbx', password: 'trunk-password' });
  sw.running.sip.providerSource.invalidate();
}, 30_000);

afterAll(() => {
  carrierSocket?.close();
});

describe('click-to-call: POST /api/v1/calls', () => {
  it('rings the from account, then the destination with its offer, bridges them; BYE ends both; listed, evented, CDR written', async () => {
    const token = await tokenFor('desk@acme.test', sw.tenantId);
    const firstPort = await freeUdpPort();
    const secondPort = await freeUdpPort();
    await registerPhone(sw, '1001', firstPort);
    await registerPhone(sw, '1002', secondPort);
    const first = await sipp('click-to-call-uas-first.xml', { port: firstPort });
    const second = await sipp('click-to-call-uas-second-bye.xml', { port: secondPort });

    // One call at a time for 1001: a click-to-call holds the account's maxCalls slot like any call.
    await sw.running.db.accounts.update('1001', DOMAIN, { maxCalls: 1 });
    sw.running.sip.directory.invalidate();

    const res = await api(token, 'POST', '/calls', { from: '1001', to: '1002@local' });
    expect(res.status, await res.clone().text()).toBe(201);
    const { callId } = (await res.json()) as { callId: string };
    // (The second party hangs up only after the first answered and both were bridged.)
    const second1001 = await api(token, 'POST', '/calls', { from: '1001', to: '1002@local' });
    expect(second1001.status).toBe(429);
    const listed = (await (await api(token, 'GET', '/calls')).json()) as { items: Array<{ id: string; caller: { account?: string } }> };
    expect(listed.items.find((c) => c.id === callId)?.caller.account).toBe('1001');

    const [firstRun] = await expectSippOk(first, second);
    // The first phone's ACK carries the second phone's answer with the switch's address.
    expect(firstRun!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    const types = sw.events.filter((e) => e['callId'] === callId).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['call.created', 'call.answered', 'call.ended']));
    const cdr = await sw.waitForCdr(callId);
    expect(cdr?.answeredAt).not.toBeNull();
    expect(cdr?.dialStrings).toEqual(['1001@local', '1002@local']);
    expect((await api(token, 'GET', `/calls/${callId}`)).status).toBe(404);
    const audit = await sw.running.db.audit.list({ tenantId: sw.tenantId });
    expect(audit.map((a) => a.action)).toContain('call.place');
  });

  it('a member calls only from their own accounts; another tenant\'s account is 404; a denied number rings nobody and sends nothing', async () => {
    const member = await tokenFor('member@acme.test', sw.tenantId, 'member');
    const memberUser = await sw.running.db.users.findByEmail('member@acme.test');
    await sw.running.db.accounts.add({ username: '1003', domain: DOMAIN, password: PASSWORD, ownerUserId: memberUser!.id });
    const other = await sw.running.db.tenants.add({ domain: 'click-other.test' });
    await sw.running.db.accounts.add({ username: '2001', domain: 'click-other.test', password: PASSWORD });
    const stranger = await tokenFor('admin@click-other.test', other.id, 'admin');
    const admin = await tokenFor('admin@acme.test', sw.tenantId, 'admin');
    sw.running.sip.directory.invalidate();
    const callsBefore = sw.running.sip.calls.activeCalls().length;

    // Someone else's account, for a member; another tenant's account for anyone: not found.
    const notMine = await api(member, 'POST', '/calls', { from: '1001', to: '1002@local' });
    expect(notMine.status).toBe(404);
    expect(await notMine.json()).toMatchObject({ field: 'from' });
    expect((await api(stranger, 'POST', '/calls', { from: '1001', to: '1002@local' })).status).toBe(404);
    expect((await api(admin, 'POST', '/calls', { from: '2001', to: '1002@local' })).status).toBe(404);
    // Bad input names the field.
    const bad = await api(admin, 'POST', '/calls', { from: '1001', to: '1002@local[dt=x' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'to' });
    expect(((await (await api(admin, 'POST', '/calls', { from: '1001' })).json()) as { field?: string }).field).toBe('to');

    // The member's own account, but no phone of it is registered: nobody to ring first.
    const unregistered = await api(member, 'POST', '/calls', { from: '1003', to: '1002@local' });
    expect(unregistered.status).toBe(409);
    expect(await unregistered.json()).toMatchObject({ field: 'from' });
    // The member's own account, to a satellite number via the provider: refused by the policy.
    const blocked = await api(member, 'POST', '/calls', { from: '1003', to: '+88216001234@carrier' });
    expect(blocked.status).toBe(403);
    expect(await blocked.json()).toMatchObject({ field: 'to', error: expect.stringContaining('denied prefix +882') });
    const event = await sw.waitForEvent((e) => e.type === 'call.blocked' && e['number'] === '+88216001234');
    expect(event['rule']).toBe('denied prefix +882');
    expect(sw.running.sip.calls.activeCalls().length).toBe(callsBefore);
    await new Promise((r) => setTimeout(r, 300));
    expect(carrierPackets).toEqual([]);

    // A policy change through the API applies at once (the switch's 30 s policy cache is dropped).
    const current = (await (await api(admin, 'GET', '/destination-policy')).json()) as { policy: { deniedPrefixes: string[] } };
    const put = await api(admin, 'PUT', '/destination-policy', { ...current.policy, deniedPrefixes: [...current.policy.deniedPrefixes, '+4930'] });
    expect(put.status, await put.clone().text()).toBe(200);
    const now = await api(member, 'POST', '/calls', { from: '1003', to: '+4930123456@carrier' });
    expect(now.status).toBe(403);
    expect(await now.json()).toMatchObject({ error: expect.stringContaining('denied prefix +4930') });
    expect(carrierPackets).toEqual([]);
  });
});
