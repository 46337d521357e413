import { describe, expect, it } from 'vitest';
import type { SipRequest } from '../../sip/index.ts';
import { aInDialog, CALLER, parsed, PHONE, replyTo, sdp, settle, useBridgeHarness } from '../bridge/bridge-test-support.ts';

/** The 2xx after the first to a B-leg INVITE (RFC 6026 §7.2): same ACK again, another fork's ACKed and BYEd. */

const h = useBridgeHarness();
const { sentTo, answeredCall } = h;

const requestsTo = (method: string): SipRequest[] => sentTo(PHONE.address, method).map((d) => parsed(d) as SipRequest);

describe('UAC branch: further 2xx to the callee INVITE', () => {
  it('a retransmitted 200 gets the same ACK again; the call stays up', async () => {
    const { bInvite } = await answeredCall();
    h.mem.inject(replyTo(bInvite, 200, { body: sdp('192.168.1.20'), contact: '<sip:bob@192.168.1.20:5060>' }), PHONE);
    await settle();
    const acks = sentTo(PHONE.address, 'ACK');
    expect(acks).toHaveLength(2);
    expect(acks[1]!.data.equals(acks[0]!.data)).toBe(true);
    expect(requestsTo('BYE')).toHaveLength(0);
    expect(h.service.activeCalls()).toHaveLength(1);
  });

  it("a second fork's 200 (another To tag) is ACKed and BYEd in its own dialog; the answered call goes on", async () => {
    const { bInvite, aTag } = await answeredCall();
    h.mem.inject(replyTo(bInvite, 200, { toTag: 'fork2', body: sdp('192.168.1.30'), contact: '<sip:bob@192.168.1.30:5060>' }), PHONE);
    await settle();
    const acks = requestsTo('ACK');
    expect(acks.map((a) => a.to.params['tag'])).toEqual(['btag', 'fork2']);
    const byes = requestsTo('BYE');
    expect(byes).toHaveLength(1);
    expect(byes[0]!.to.params['tag']).toBe('fork2');
    expect(byes[0]!.callId).toBe(bInvite.callId);
    expect(byes[0]!.uri.host).toBe('192.168.1.30');
    expect(h.service.activeCalls()).toHaveLength(1);
    // The kept dialog still carries the call: the caller's BYE reaches the first fork.
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('BYE', 2, aTag, 'abye'), CALLER);
    await settle();
    const after = requestsTo('BYE');
    expect(after.map((b) => b.to.params['tag'])).toEqual(['fork2', 'btag']);
  });
});
