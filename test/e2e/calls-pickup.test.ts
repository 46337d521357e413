import { describe, expect, it } from 'vitest';
import { DOMAIN, addTenant, endedAt, expectSippOk, freeUdpPort, registerPhone, useSwitch, waitForLamp, type SippProcess } from './calls-support.ts';

/**
 * Call pickup through the real switch with sipp: 1001 calls 1002 (a registered sipp that rings
 * and never answers); 1004 dials *81002 (directed) or *8 (the tenant's group) and gets the call,
 * the ringing phone gets CANCEL. A phone of another tenant finds nothing to pick up.
 */

const OTHER = 'pickup-other.test';
const { sw, sipp } = useSwitch(['1001', '1002', '1004']);

/** The other tenant, with its own 1004. */
async function otherTenant(): Promise<number> {
  return (await sw.running.db.tenants.findByDomain(OTHER))?.id ?? addTenant(sw, OTHER, ['1004']);
}

/** 1002's phone, registered and ringing until it is cancelled. */
async function ringingPhone(): Promise<SippProcess> {
  const port = await freeUdpPort();
  await registerPhone(sw, '1002', port);
  return sipp('call-uas-ring-cancel.xml', { port });
}

async function ringing1002(): Promise<{ phone: SippProcess; caller: SippProcess; callId: string }> {
  const phone = await ringingPhone();
  await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
  const before = sw.events.length;
  // 1001 hears the answer of whoever picks up, then hangs up after 500 ms.
  const caller = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1002', user: '1001' });
  const rang = await sw.waitForEvent((e) => e.type === 'leg.ringing' && sw.events.indexOf(e) >= before);
  return { phone, caller, callId: String(rang['callId']) };
}

describe('call pickup', () => {
  it('*8<ext> picks up the call ringing that extension: the ringing phone gets CANCEL, caller and picker talk', async () => {
    const { phone, caller, callId } = await ringing1002();
    const picker = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '*81002', user: '1004' });
    const [, c, p] = await expectSippOk(phone, caller, picker);
    // Each got the other's media description.
    expect(c!.logs).toMatch(/answer sdp: c=IN IP4 127\.0\.0\.1/);
    expect(p!.logs).toMatch(/answer sdp: c=IN IP4 127\.0\.0\.1/);
    const ev = await sw.waitForEvent((e) => e.type === 'call.picked-up' && e['callId'] === callId);
    expect(ev['by']).toBe(`sip:1004@${DOMAIN}`);
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['hungUpBy']).toBe('caller');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history).toEqual([expect.objectContaining({ type: 'picked-up', by: `sip:1004@${DOMAIN}` })]);
    expect(cdr.outcome).toBe('answered');
  });

  it('*8 alone picks up any call ringing the tenant', async () => {
    const { phone, caller, callId } = await ringing1002();
    const picker = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '*8', user: '1004' });
    await expectSippOk(phone, caller, picker);
    await sw.waitForEvent((e) => e.type === 'call.picked-up' && e['callId'] === callId);
  });

  it('REST pickup rings the destination extension instead; bad input 400, another tenant 404', async () => {
    const user = await sw.running.db.users.add({ email: `pickup${Date.now()}@acme.test`, password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    const otherId = await otherTenant();
    const strangerUser = await sw.running.db.users.add({ email: `pickup${Date.now()}@${OTHER}`, password: 'a-long-web-password', role: 'receptionist', tenantId: otherId });
    const stranger = (await sw.running.db.tokens.create({ userId: strangerUser.id, name: 'test' })).token;
    const { host, port } = sw.running.httpAddress;
    const post = (t: string, body: unknown) => fetch(`http://${host}:${port}/api/v1/calls/pickup`, {
      method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const deskPort = await freeUdpPort();
    await registerPhone(sw, '1004', deskPort);
    const desk = await sipp('call-uas-answer.xml', { port: deskPort });
    const { phone, caller, callId } = await ringing1002();
    const both = await post(token, { callId, extension: '1002', destination: '1004' });
    expect(both.status).toBe(400);
    expect(((await both.json()) as { field?: string }).field).toBe('callId');
    expect((await post(token, { extension: '1002' })).status).toBe(400);
    expect((await post(stranger, { callId, destination: '1004' })).status).toBe(404);
    expect((await post(stranger, { extension: '1002', destination: '1004' })).status).toBe(404);
    const res = await post(token, { extension: '1002', destination: '1004' });
    expect(res.status, await res.clone().text()).toBe(200);
    await expectSippOk(phone, caller, desk);
    const ev = await sw.waitForEvent((e) => e.type === 'call.picked-up' && e['callId'] === callId);
    expect(String(ev['by'])).toMatch(/^api:pickup/);
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.legs.map((l) => l.destination)).toEqual(['local:1002', 'local:1004']);
  });

  it('a phone of another tenant dialling *81002 or *8 finds nothing (404), the call keeps ringing', async () => {
    await otherTenant();
    const { phone, caller, callId } = await ringing1002();
    for (const code of ['*81002', '*8']) {
      await expectSippOk(await sipp('park-uac-auth-empty-slot-404.xml', { remote: sw.target, service: code, user: '1004', domain: OTHER }));
    }
    expect(sw.events.some((e) => e.type === 'call.picked-up' && e['callId'] === callId)).toBe(false);
    // Still ringing: now our own 1004 picks it up, which ends every sipp.
    await expectSippOk(phone, caller, await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '*81002', user: '1004' }));
    await sw.waitForEvent((e) => e.type === 'call.picked-up' && e['callId'] === callId);
  });

  it('*8<ext>: the rung extension is idle and the picking phone busy while the picked call goes on', async () => {
    await registerPhone(sw, '1004', await freeUdpPort());
    const from = sw.events.length;
    const { phone, caller, callId } = await ringing1002();
    await waitForLamp(sw, '1002', 'ringing', from);
    const picker = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '*81002', user: '1004' });
    await sw.waitForEvent((e) => e.type === 'call.picked-up' && e['callId'] === callId);
    const joined = sw.events.find((e) => e.type === 'call.party.joined' && e['callId'] === callId && e['account'] === '1004');
    expect(joined).toBeDefined();
    expect(await waitForLamp(sw, '1004', 'busy', from)).toBeLessThan(endedAt(sw, callId));
    expect(await waitForLamp(sw, '1002', 'idle', from)).toBeLessThan(endedAt(sw, callId));
    await expectSippOk(phone, caller, picker);
    await waitForLamp(sw, '1004', 'idle', from);
  });
});
