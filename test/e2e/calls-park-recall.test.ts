import { describe, expect, it } from 'vitest';
import { answeredCall, expectSippOk, freeUdpPort, registerPhone, restApi, useSwitch } from './calls-support.ts';

/** Park recall with a 1 s recall time (PATCHBAY_PARK_RECALL_SEC): the parked party rings the parker's registered phone. */

const { sw, sipp } = useSwitch(['1001'], { PATCHBAY_PARK_RECALL_SEC: '1' });
const { tokenFor, api } = restApi(sw);

describe('park recall', () => {
  it('a call parked by REST and not retrieved rings the parker\'s extension after the recall time', async () => {
    const token = await tokenFor('recall@acme.test', sw.tenantId);
    // 1001's desk phone: registered, answers the recall (offerless INVITE, late offer).
    const deskPort = await freeUdpPort();
    await registerPhone(sw, '1001', deskPort);
    const desk = await sipp('transfer-uas-late-offer.xml', { port: deskPort });
    const callee = await sipp('park-uas-answer-parked-retrieved-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
    const res = await api(token, 'POST', `/calls/${callId}/park`, { party: 'callee', slot: '79' });
    expect(res.status, await res.clone().text()).toBe(200);
    // The caller left with the park (BYE); the callee waits in 79 until the recall rings 1001.
    const [c, d] = await expectSippOk(callee, desk, caller);
    expect(c!.logs).toMatch(/hold: a=sendonly/);
    expect(c!.logs).toMatch(/retrieved by: o=/);
    expect(d!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    const recalled = await sw.waitForEvent((e) => e.type === 'call.recalled' && e['callId'] === callId);
    expect(recalled['slot']).toBe('79');
    expect(recalled['destination']).toBe('1001');
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['hungUpBy']).toBe('callee');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history.map((h) => [h.type, h['slot']])).toEqual([['parked', '79'], ['recalled', '79']]);
    expect(cdr.legs.map((l) => l.destination)).toEqual([`uri:sip:callee@127.0.0.1:${callee.port}`, 'local:1001']);
  });
});
