import { describe, expect, it } from 'vitest';
import { DOMAIN, addTenant, answeredCall, expectSippOk, restApi, useSwitch, type SippProcess } from './calls-support.ts';

/**
 * Per-tenant park slots through the real switch with sipp: an operator gives one tenant the
 * slots 80-82 through the tenant API; its calls park into 80 and its 70 is no slot, while the
 * other tenant keeps the switch default 70-79 (PATCHBAY_PARK_SLOTS).
 */

const { sw, sipp } = useSwitch(['1001', '1004']);
const OWN = `park-own-${process.pid}.test`;
const { tokenFor, api } = restApi(sw);

/** 1001@domain calls out; returns the answered call's id and the caller's sipp. */
function parkedCaller(domain: string): Promise<{ callId: string; caller: SippProcess }> {
  return answeredCall(sw, () => sipp('park-uac-auth-parked-retrieved-bye.xml', { remote: sw.target, service: '2000', user: '1001', domain }));
}

describe('park slots per tenant', () => {
  it('a tenant given 80-82 through the API parks into 80 and refuses 70; the other tenant keeps 70-79', async () => {
    const ownCallee = await sipp('call-uas-answer.xml');
    const ownId = await addTenant(sw, OWN, ['1001', '1004'], { user: '1001', source: `await sys.Dial("sip:callee@127.0.0.1:${ownCallee.port}");` });
    const operator = await tokenFor(`op-${process.pid}@park.test`, null, 'operator');
    const ownDesk = await tokenFor(`desk@${OWN}`, ownId);
    const acmeDesk = await tokenFor('desk@acme.test', sw.tenantId);

    // Bad ranges are 400 naming the field; a receptionist may not change tenant settings.
    for (const bad of [{ parkSlots: '82-80' }, { parkSlots: '70-200' }, { parkSlots: '7x' }, { parkRecallSeconds: -1 }]) {
      const r = await api(operator, 'PATCH', `/tenants/${ownId}`, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(((await r.json()) as { field?: string }).field).toBe(Object.keys(bad)[0]);
    }
    expect((await api(ownDesk, 'PATCH', `/tenants/${ownId}`, { parkSlots: '80-82' })).status).toBe(403);
    const set = await api(operator, 'PATCH', `/tenants/${ownId}`, { parkSlots: '80-82', parkRecallSeconds: 300 });
    expect(set.status, await set.clone().text()).toBe(200);
    expect(((await set.json()) as { tenant: Record<string, unknown> }).tenant).toMatchObject({ parkSlots: '80-82', parkRecallSeconds: 300 });
    const acme = (await (await api(operator, 'GET', `/tenants/${sw.tenantId}`)).json()) as { tenant: Record<string, unknown> };
    expect(acme.tenant).toMatchObject({ parkSlots: null, parkRecallSeconds: null });

    // The tenant with its own slots: 70 is none of them, the first free one is 80.
    const own = await parkedCaller(OWN);
    const refused = await api(ownDesk, 'POST', `/calls/${own.callId}/park`, { party: 'caller', slot: '70' });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toMatch(/80-82/);
    const parked = await api(ownDesk, 'POST', `/calls/${own.callId}/park`, { party: 'caller' });
    expect(parked.status, await parked.clone().text()).toBe(200);
    expect(((await parked.json()) as { slot: string }).slot).toBe('80');
    const list = (await (await api(ownDesk, 'GET', '/parking')).json()) as { items: Array<{ slot: string; callId: string }> };
    expect(list.items.map((i) => [i.slot, i.callId])).toEqual([['80', own.callId]]);
    // Its phone dialling 80 retrieves the call (no dialplan: 1004 has none).
    const ownRetriever = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '80', user: '1004', domain: OWN });
    const [c] = await expectSippOk(own.caller, ownCallee, ownRetriever);
    expect(c!.logs).toMatch(/hold: a=sendonly/);
    expect((await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === own.callId))['slot']).toBe('80');

    // The other tenant: still the switch default, so 80 is not its slot and 70 is its first.
    const acmeCallee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${acmeCallee.port}");`);
    const other = await parkedCaller(DOMAIN);
    expect((await api(acmeDesk, 'POST', `/calls/${other.callId}/park`, { party: 'caller', slot: '80' })).status).toBe(422);
    const acmeParked = await api(acmeDesk, 'POST', `/calls/${other.callId}/park`, { party: 'caller' });
    expect(acmeParked.status, await acmeParked.clone().text()).toBe(200);
    expect(((await acmeParked.json()) as { slot: string }).slot).toBe('70');
    const acmeRetriever = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '70', user: '1004' });
    await expectSippOk(other.caller, acmeCallee, acmeRetriever);
    expect((await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === other.callId))['slot']).toBe('70');

    // Back to the default: null clears the tenant's own range.
    const cleared = await api(operator, 'PATCH', `/tenants/${ownId}`, { parkSlots: null, parkRecallSeconds: null });
    expect(((await cleared.json()) as { tenant: Record<string, unknown> }).tenant).toMatchObject({ parkSlots: null, parkRecallSeconds: null });
  });
});
