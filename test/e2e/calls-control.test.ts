import { describe, expect, it } from 'vitest';
import { DOMAIN, expectSippOk, restApi, useSwitch } from './calls-support.ts';

/**
 * Live call control over the REST API against the real switch: a call between two sipp parties
 * is listed, held (both re-INVITEd sendonly), unheld (sendrecv again) and hung up — and a token
 * of another tenant can neither see nor touch it.
 */

const { sw, sipp } = useSwitch(['1001']);
const { tokenFor, api } = restApi(sw);

async function waitForAnsweredCall(token: string): Promise<{ id: string; state: string }> {
  for (let i = 0; i < 100; i++) {
    const { calls } = (await (await api(token, 'GET', '/calls')).json()) as { calls: Array<{ id: string; state: string }> };
    const answered = calls.find((c) => c.state === 'answered');
    if (answered) return answered;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no answered call listed: ${await (await api(token, 'GET', '/calls')).text()}`);
}

describe('live call control over REST', () => {
  it('lists, holds, unholds and hangs up a call; other tenants and bad input are refused', async () => {
    const receptionist = await tokenFor('reception@acme.test', sw.tenantId);
    const other = await sw.running.db.tenants.add({ domain: 'other.test' });
    const stranger = await tokenFor('reception@other.test', other.id);

    const callee = await sipp('control-uas-hold-unhold.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const caller = await sipp('control-uac-auth-hold-unhold.xml', { remote: sw.target, service: '2000', user: '1001' });
    const call = await waitForAnsweredCall(receptionist);

    // The attacker's view: no token, another tenant's token, a malformed body.
    expect((await api(undefined, 'GET', '/calls')).status).toBe(401);
    expect(((await (await api(stranger, 'GET', '/calls')).json()) as { calls: unknown[] }).calls).toEqual([]);
    expect((await api(stranger, 'POST', `/calls/${call.id}/hold`, { party: 'caller' })).status).toBe(404);
    expect((await api(stranger, 'POST', `/calls/${call.id}/hangup`)).status).toBe(404);
    const bad = await api(receptionist, 'POST', `/calls/${call.id}/hold`, { party: 'everyone' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'party' });

    const held = await api(receptionist, 'POST', `/calls/${call.id}/hold`, { party: 'caller' });
    expect(held.status, await held.clone().text()).toBe(200);
    expect(((await held.json()) as { call: { held: string } }).call.held).toBe('caller');
    const unheld = await api(receptionist, 'POST', `/calls/${call.id}/unhold`);
    expect(unheld.status, await unheld.clone().text()).toBe(200);
    expect((await api(receptionist, 'POST', `/calls/${call.id}/unhold`)).status).toBe(409);
    expect((await api(receptionist, 'POST', `/calls/${call.id}/hangup`)).status).toBe(200);

    const [calleeRun, callerRun] = await expectSippOk(callee, caller);
    for (const run of [calleeRun!, callerRun!]) {
      expect(run.logs).toContain('re-invite: a=sendonly');
      expect(run.logs).toContain('re-invite: a=sendrecv');
    }
    const types = sw.events.filter((e) => e['callId'] === call.id).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['call.held', 'call.unheld', 'call.ended']));
    expect(sw.events.find((e) => e.type === 'call.held' && e['callId'] === call.id)?.['by']).toBe('api:reception@acme.test');
    const cdr = await sw.waitForCdr(call.id);
    expect(cdr?.history.map((h) => [h.type, h['party']])).toEqual([['hold', 'caller'], ['unhold', 'caller']]);
    expect(cdr?.callee).toContain(`2000@${DOMAIN}`);
  });

  it('blind-transfers the caller to an extension through the tenant\'s transfer dialplan; the callee leaves', async () => {
    const receptionist = await tokenFor('desk2@acme.test', sw.tenantId);
    await sw.useNamedDialplan('transfer', 'const port = await sys.DBRead("target-port"); await sys.Dial("sip:" + req.uri.user + "@127.0.0.1:" + port);');
    const target = await sipp('transfer-uas-late-offer.xml');
    await sw.running.db.kv.write(sw.tenantId, 'target-port', String(target.port));
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const caller = await sipp('transfer-uac-auth-reinvite-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const call = await waitForAnsweredCall(receptionist);
    const bad = await api(receptionist, 'POST', `/calls/${call.id}/transfer`, { party: 'caller', destination: '<sip:x>' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'destination' });
    const r = await api(receptionist, 'POST', `/calls/${call.id}/transfer`, { party: 'caller', destination: '2002' });
    expect(r.status, await r.clone().text()).toBe(200);
    const [, newParty, transferee] = await expectSippOk(callee, target, caller);
    expect(newParty!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    expect(transferee!.logs).toMatch(/re-invite sdp: c=IN IP4 127\.0\.0\.1/);
    const done = await sw.waitForEvent((e) => e.type === 'call.transferred' && e['callId'] === call.id);
    expect(done['by']).toBe('api:desk2@acme.test');
    expect(done['referTo']).toBe(`<sip:2002@${DOMAIN}>`);
  });
});
