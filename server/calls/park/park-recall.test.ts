import { describe, expect, it } from 'vitest';
import type { SipRequest } from '../../sip/index.ts';
import { aInDialog, CALLER, parsed, PHONE, replyTo, sdp, settle, useBridgeHarness } from '../bridge/bridge-test-support.ts';
import { CallControl } from '../control/index.ts';
import { TENANT } from '../call-test-support.ts';

/** Park and recall through the B2BUA over the in-memory transport, time driven by the fake clock. */

const h = useBridgeHarness();

describe('park recall (fake clock)', () => {
  it('parks the caller on hold, ends the callee, and after 120 s rings the callee account again with a late offer', async () => {
    const { aTag } = await h.answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    await settle();
    const control = new CallControl(h.service);
    const [call] = control.list(TENANT.id);
    const parking = control.park(TENANT.id, call!.id, 'caller', undefined, 'test');
    await settle();
    const hold = parsed(h.sentTo(CALLER.address, 'INVITE')[0]) as SipRequest;
    expect(hold.body.toString()).toContain('a=sendonly');
    h.mem.inject(replyTo(hold, 200, { toTag: aTag, body: sdp(CALLER.address, 'recvonly') }), CALLER);
    await settle();
    expect(await parking).toEqual({ ok: true, slot: '70' });
    expect(h.sentTo(PHONE.address, 'BYE')).toHaveLength(1);
    expect(control.parking(TENANT.id).map((p) => p.slot)).toEqual(['70']);
    // A second park of the same call is refused; the slot stays taken.
    expect(await control.park(TENANT.id, call!.id, 'caller', '71', 'test')).toMatchObject({ ok: false, status: 409 });

    const invitesBefore = h.sentTo(PHONE.address, 'INVITE').length;
    h.clock.advance(119_000);
    await settle();
    expect(h.sentTo(PHONE.address, 'INVITE')).toHaveLength(invitesBefore);
    h.clock.advance(1_000);
    await settle();
    // The recall: bob's phone is rung again, without SDP (its offer goes to the parked caller).
    const recall = h.sentTo(PHONE.address, 'INVITE').slice(invitesBefore).map((d) => parsed(d) as SipRequest);
    expect(recall).toHaveLength(1);
    expect(recall[0]!.body.length).toBe(0);
    expect(control.parking(TENANT.id)).toEqual([]);
    expect(h.events.filter((e) => e.type === 'call.parked').map((e) => (e as { slot?: string }).slot)).toEqual(['70']);
  });

  it('answers the parked party\'s own re-INVITE with the held session, and its BYE ends the call and frees the slot', async () => {
    const { aTag } = await h.answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    await settle();
    const control = new CallControl(h.service);
    const [call] = control.list(TENANT.id);
    const parking = control.park(TENANT.id, call!.id, 'caller', '75', 'test');
    await settle();
    const hold = parsed(h.sentTo(CALLER.address, 'INVITE')[0]) as SipRequest;
    h.mem.inject(replyTo(hold, 200, { toTag: aTag, body: sdp(CALLER.address, 'recvonly') }), CALLER);
    await settle();
    expect(await parking).toEqual({ ok: true, slot: '75' });
    const phoneInvites = h.sentTo(PHONE.address, 'INVITE').length;
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'arefresh', '', 'sendrecv'), CALLER);
    await settle();
    const ok = h.sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d)).find((r) => r.cseq.seq === 2 && r.cseq.method === 'INVITE');
    expect(ok?.body.toString()).toContain('a=sendonly');
    // Nothing went to the party that left.
    expect(h.sentTo(PHONE.address, 'INVITE')).toHaveLength(phoneInvites);
    // The park's 2xx is resent until the parked phone's ACK (UDP), then no more.
    const okTo2 = () => h.sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d)).filter((r) => r.cseq.seq === 2 && r.cseq.method === 'INVITE').length;
    h.clock.advance(500);
    expect(okTo2()).toBe(2);
    h.mem.inject(aInDialog('ACK', 2, aTag, 'aack2'), CALLER);
    await settle();
    h.clock.advance(4_000);
    expect(okTo2()).toBe(2);
    // Its leg still sorts the dialog's requests for the park: a REFER is refused, an old CSeq is 500.
    h.mem.inject(aInDialog('REFER', 3, aTag, 'arefer'), CALLER);
    h.mem.inject(aInDialog('INFO', 2, aTag, 'aold'), CALLER);
    await settle();
    const answers = h.sentTo(CALLER.address, 'SIP/2.0').map((d) => parsed(d)).filter((r) => r.cseq.method === 'REFER' || r.cseq.method === 'INFO');
    expect(answers.map((r) => `${r.cseq.method} ${(r as { status: number }).status}`)).toEqual(['REFER 603', 'INFO 500']);
    h.mem.inject(aInDialog('BYE', 4, aTag, 'abye'), CALLER);
    await settle();
    expect(control.parking(TENANT.id)).toEqual([]);
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(cdr!.history.map((x) => x.type)).toEqual(['parked']);
  });
});
