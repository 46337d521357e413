import { describe, expect, it } from 'vitest';
import type { BaresipClient } from './harness/index.ts';
import { CallControl } from '../../server/calls/index.ts';
import { DOMAIN } from './calls-support.ts';
import { bitRates, useBaresipCalls } from './baresip-calls-support.ts';

/**
 * Pickup and park with real softphones: 1004 picks up a call ringing 1002 by dialling *81002,
 * and retrieves a parked call by dialling its slot; afterwards 1001 and 1004 exchange RTP at
 * G.711 rates (their own counters).
 */

const fx = useBaresipCalls(['1001', '1002', '1004']);
const phone = (user: string, autoAnswer: boolean): Promise<BaresipClient> => fx.phone(user, autoAnswer);

async function talking(a: BaresipClient, b: BaresipClient): Promise<void> {
  await new Promise((r) => setTimeout(r, 2500));
  for (const rate of [...(await bitRates(a)), ...(await bitRates(b))]) expect(rate).toBeGreaterThan(32_000);
}

describe('baresip: pickup and park', () => {
  it('1004 dials *81002 while 1002 rings: 1004 gets the call, 1002 stops ringing, audio flows', async () => {
    await fx.sw.useOutDialplan('1001', 'await sys.Dial(req.uri.user + "@local");');
    const ringing = await phone('1002', false);
    const picker = await phone('1004', false);
    const caller = await phone('1001', false);
    const ringMark = ringing.output.length;
    const callerMark = caller.output.length;
    caller.send(`/dial sip:1002@${DOMAIN}`);
    await ringing.waitFor(/Incoming call/i, 15_000, ringMark);
    const pickMark = picker.output.length;
    picker.send(`/dial sip:*81002@${DOMAIN}`);
    await picker.waitFor(/Call established/, 15_000, pickMark);
    await caller.waitFor(/Call established/, 15_000, callerMark);
    // baresip reports the CANCEL of a ringing call as a closed session.
    await ringing.waitFor(/session closed|terminated/i, 10_000, ringMark);
    const ev = await fx.sw.waitForEvent((e) => e.type === 'call.picked-up');
    expect(ev['by']).toBe(`sip:1004@${DOMAIN}`);
    await talking(caller, picker);
    const hangupMark = picker.output.length;
    caller.send('/hangup');
    await picker.waitFor(/terminated/, 10_000, hangupMark);
  });

  it('1001 is parked by the switchboard and 1004 retrieves it by dialling 70: audio flows', async () => {
    await fx.sw.useOutDialplan('1001', 'await sys.Dial(req.uri.user + "@local");');
    // 1002 answers and leaves with the park (its BYE is checked in calls-park.test.ts: baresip 1.0 prints nothing for it).
    await phone('1002', true);
    const retriever = await phone('1004', false);
    const caller = await phone('1001', false);
    const callerMark = caller.output.length;
    caller.send(`/dial sip:1002@${DOMAIN}`);
    await caller.waitFor(/Call established/, 20_000, callerMark);
    const control = new CallControl(fx.sw.running.sip.calls);
    const call = control.list(fx.sw.tenantId).find((c) => c.state === 'answered')!;
    expect(await control.park(fx.sw.tenantId, call.id, 'caller', undefined, 'test')).toEqual({ ok: true, slot: '70' });
    const retrieveMark = retriever.output.length;
    retriever.send(`/dial sip:70@${DOMAIN}`);
    await retriever.waitFor(/Call established/, 15_000, retrieveMark);
    await fx.sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === call.id);
    await talking(caller, retriever);
    const hangupMark = caller.output.length;
    retriever.send('/hangup');
    await caller.waitFor(/terminated/, 10_000, hangupMark);
  });
});
