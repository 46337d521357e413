import { describe, expect, it } from 'vitest';
import { answeredCall, endedAt, expectSippOk, freeUdpPort, registerPhone, restApi, setMaxCalls, useSwitch, waitForLamp } from './calls-support.ts';

/**
 * Park through the real switch with sipp: park by REST and by a phone's REFER to a slot,
 * retrieve by dialling the slot from a phone of the tenant. Slots belong to one tenant: another
 * tenant's token sees none and cannot retrieve (404).
 */

const { sw, sipp } = useSwitch(['1001', '1004']);
const { tokenFor, api } = restApi(sw);

describe('park and retrieve', () => {
  it('REST park of the caller: hold re-INVITE, callee BYE, listed in its slot; a phone dialling the slot retrieves it', async () => {
    const receptionist = await tokenFor('park@acme.test', sw.tenantId);
    const other = await sw.running.db.tenants.add({ domain: 'park-other.test' });
    const stranger = await tokenFor('park@park-other.test', other.id);
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('park-uac-auth-parked-retrieved-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));

    const bad = await api(receptionist, 'POST', `/calls/${callId}/park`, { party: 'caller', slot: '7x' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field?: string }).field).toBe('slot');
    expect((await api(receptionist, 'POST', `/calls/${callId}/park`, { party: 'caller', slot: '99' })).status).toBe(422);
    expect((await api(stranger, 'POST', `/calls/${callId}/park`, { party: 'caller' })).status).toBe(404);

    const parked = await api(receptionist, 'POST', `/calls/${callId}/park`, { party: 'caller' });
    expect(parked.status, await parked.clone().text()).toBe(200);
    expect(((await parked.json()) as { slot: string }).slot).toBe('70');
    const ev = await sw.waitForEvent((e) => e.type === 'call.parked' && e['callId'] === callId);
    expect(ev['slot']).toBe('70');
    expect(ev['by']).toBe('api:park@acme.test');
    const list = (await (await api(receptionist, 'GET', '/parking')).json()) as { items: Array<{ slot: string; callId: string; party: string }>; nextCursor: null };
    expect(list.items.map((i) => [i.slot, i.callId])).toEqual([['70', callId]]);
    expect(list.items[0]!.party).toMatch(/^sip:1001@acme\.test/);
    expect(list.nextCursor).toBeNull();
    // Another tenant: no slots to see, nothing to retrieve, and its phones' 70 is its own.
    expect(((await (await api(stranger, 'GET', '/parking')).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await api(stranger, 'POST', '/parking/70/retrieve', { destination: '1004' })).status).toBe(404);
    expect((await api(receptionist, 'POST', '/parking/71/retrieve', { destination: '1004' })).status).toBe(404);
    const noDest = await api(receptionist, 'POST', '/parking/70/retrieve', { destination: 'a b' });
    expect(noDest.status).toBe(400);

    // 1004 dials 70: it takes the parker's place, the parked caller is re-INVITEd with its offer.
    const retriever = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '70', user: '1004' });
    const [c, , r] = await expectSippOk(caller, callee, retriever);
    expect(c!.logs).toMatch(/hold: a=sendonly/);
    expect(c!.logs).toMatch(/retrieved by: o=/);
    expect(r!.logs).toMatch(/answer sdp: c=IN IP4 127\.0\.0\.1/);
    const got = await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === callId);
    expect(got['slot']).toBe('70');
    expect(got['by']).toBe('sip:1004@acme.test');
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['hungUpBy']).toBe('caller');
    expect(((await (await api(receptionist, 'GET', '/parking')).json()) as { items: unknown[] }).items).toEqual([]);
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history.map((h) => [h.type, h['slot']])).toEqual([['parked', '70'], ['retrieved', '70']]);
  });

  it('a phone parks the other party with a REFER to a slot (tr=c); dialling the slot retrieves it', async () => {
    const referrer = await sipp('refer-uas-refer-notify-bye.xml', { keys: { refer_to: '71' } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${referrer.port}[tr=c]");`);
    const before = sw.events.length;
    const caller = await sipp('park-uac-auth-parked-retrieved-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const parked = await sw.waitForEvent((e) => e.type === 'call.parked' && sw.events.indexOf(e) >= before);
    expect(parked['slot']).toBe('71');
    expect(String(parked['by'])).toMatch(/^sip:callee@127\.0\.0\.1/);
    const retriever = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '71', user: '1004' });
    const [r] = await expectSippOk(referrer, caller, retriever);
    expect(r!.logs).toContain('notify: SIP/2.0 200');
    const callId = String(parked['callId']);
    await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === callId);
    const kinds = sw.events.filter((e) => e['callId'] === callId && e.type.startsWith('call.transfer')).map((e) => e.type);
    expect(kinds).toEqual(['call.transfer.accepted', 'call.transferred']);
  });

  it('a REFER to a slot on a leg without tr=c is refused like any REFER (603), nothing is parked', async () => {
    const callee = await sipp('refer-uas-refer-refused-key.xml', { keys: { refer_to: '72' } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const before = sw.events.length;
    await expectSippOk(callee, await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
    await sw.waitForEvent((e) => e.type === 'call.transfer.refused' && sw.events.indexOf(e) >= before);
    expect(sw.events.some((e) => sw.events.indexOf(e) >= before && e.type === 'call.parked')).toBe(false);
  });

  it('REST retrieve rings the destination extension with a late offer and connects the parked party to it', async () => {
    const receptionist = await tokenFor('retrieve@acme.test', sw.tenantId);
    const deskPort = await freeUdpPort();
    await registerPhone(sw, '1004', deskPort);
    const desk = await sipp('transfer-uas-late-offer.xml', { port: deskPort });
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('park-uac-auth-parked-retrieved-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
    const parked = await api(receptionist, 'POST', `/calls/${callId}/park`, { party: 'caller', slot: '77' });
    expect(parked.status, await parked.clone().text()).toBe(200);
    const got = await api(receptionist, 'POST', '/parking/77/retrieve', { destination: '1004' });
    expect(got.status, await got.clone().text()).toBe(200);
    const [c, , d] = await expectSippOk(caller, callee, desk);
    expect(c!.logs).toContain('retrieved by: o=target');
    expect(d!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    const ev = await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === callId);
    expect(ev['destination']).toBe('1004');
    expect(ev['by']).toBe('api:retrieve@acme.test');
  });

  it('dialling an empty slot gets 404 and runs no dialplan', async () => {
    await sw.useOutDialplan('1004', 'sys.Log("must not run"); sys.Respond(486, "ran");');
    const before = sw.events.length;
    await expectSippOk(await sipp('park-uac-auth-empty-slot-404.xml', { remote: sw.target, service: '75', user: '1004' }));
    expect(sw.events.some((e) => sw.events.indexOf(e) >= before && e.type === 'dialplan.log')).toBe(false);
  });

  it('REST park of the callee: the caller that left is idle and may call again at once (maxCalls 1); the phone dialling the slot is busy', async () => {
    const receptionist = await tokenFor('park-lamps@acme.test', sw.tenantId);
    await registerPhone(sw, '1001', await freeUdpPort());
    await registerPhone(sw, '1004', await freeUdpPort());
    await setMaxCalls(sw, '1001', 1);
    try {
      const callee = await sipp('park-uas-answer-parked-retrieved-bye.xml');
      await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
      const { caller: parker, callId, before } = await answeredCall(sw, () => sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
      await waitForLamp(sw, '1001', 'busy', before);
      const parked = await api(receptionist, 'POST', `/calls/${callId}/park`, { party: 'callee', slot: '73' });
      expect(parked.status, await parked.clone().text()).toBe(200);
      await expectSippOk(parker);
      expect(await waitForLamp(sw, '1001', 'idle', before)).toBeLessThan(endedAt(sw, callId));
      // The parked call is no call of 1001's any more: its one slot is free for a new call.
      const other = await sipp('call-uas-answer.xml');
      await sw.useOutDialplan('1001', `await sys.Dial("sip:other@127.0.0.1:${other.port}");`);
      await expectSippOk(other, await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
      expect(endedAt(sw, callId)).toBe(Infinity);
      const retrievedFrom = sw.events.length;
      const retriever = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '73', user: '1004' });
      await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === callId);
      expect(await waitForLamp(sw, '1004', 'busy', retrievedFrom)).toBeLessThan(endedAt(sw, callId));
      await expectSippOk(callee, retriever);
      await waitForLamp(sw, '1004', 'idle', retrievedFrom);
    } finally {
      await setMaxCalls(sw, '1001', null);
    }
  });
});
