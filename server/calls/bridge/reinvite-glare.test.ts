import { describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse } from '../../sip/index.ts';
import { A_INVITE, aInDialog, CALLER, parsed, PHONE, replyTo, request, sdp, settle, useBridgeHarness } from './bridge-test-support.ts';

/** Re-INVITE glare, BYE during a pending re-INVITE, delayed-offer re-INVITE (RFC 3261 §14.2, §15.1.2, §13.2.1), over the in-memory transport. */

const h = useBridgeHarness();
const { sentTo, answeredCall } = h;

/** An in-dialog request from the callee (B side) toward the B2BUA. */
function bInDialog(bInvite: SipRequest, method: string, seq: number, branch: string, direction?: string): string {
  return request([
    `${method} sip:patchbay@127.0.0.1:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK${branch};rport`,
    `From: <sip:bob@example.com>;tag=btag`,
    `To: <sip:bob@example.com>;tag=${bInvite.from.params['tag']}`,
    `Call-ID: ${bInvite.callId}`,
    `CSeq: ${seq} ${method}`,
    'Contact: <sip:bob@192.168.1.20:5060>',
  ], direction ? sdp('192.168.1.20', direction) : '');
}

function statusesTo(address: string, method: string): number[] {
  return h.mem.sentStartingWith('SIP/2.0').filter((s) => s.target.address === address)
    .map((d) => parsed(d) as SipResponse).filter((r) => r.cseq.method === method).map((r) => r.status);
}

describe('re-INVITE glare and BYE during a re-INVITE', () => {
  it('answers 491 to the callee re-INVITE that crosses the caller re-INVITE; the first one completes', async () => {
    const { bInvite, aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    expect(relayed.body.toString()).toContain('a=sendonly');

    // The callee's own re-INVITE crosses ours before it answered: glare on the B dialog.
    h.mem.inject(bInDialog(bInvite, 'INVITE', 1, 'breinv', 'inactive'), PHONE);
    await settle();
    expect(statusesTo(PHONE.address, 'INVITE')).toContain(491);
    expect(sentTo(CALLER.address, 'INVITE')).toHaveLength(0);

    h.mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'recvonly') }), PHONE);
    await settle();
    const toCaller = sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse).find((r) => r.cseq.seq === 2);
    expect(toCaller?.body.toString()).toContain('a=recvonly');

    // Once settled, a re-INVITE from the callee goes through again (retry after 491).
    h.mem.inject(aInDialog('ACK', 2, aTag, 'aack2'), CALLER);
    h.mem.inject(bInDialog(bInvite, 'INVITE', 2, 'breinv2', 'sendonly'), PHONE);
    await settle();
    const toA = parsed(sentTo(CALLER.address, 'INVITE')[0]) as SipRequest;
    expect(toA.body.toString()).toContain('a=sendonly');
  });

  it('answers 491 to a caller re-INVITE while a callee re-INVITE is pending', async () => {
    const { bInvite, aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(bInDialog(bInvite, 'INVITE', 1, 'breinv', 'sendonly'), PHONE);
    await settle();
    expect(sentTo(CALLER.address, 'INVITE')).toHaveLength(1);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    expect(statusesTo(CALLER.address, 'INVITE')).toContain(491);
    expect(sentTo(PHONE.address, 'INVITE')).toHaveLength(1);
  });

  it('answers 500 with Retry-After to a second re-INVITE from the same side while its first is pending', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    h.mem.inject(aInDialog('INVITE', 3, aTag, 'areinv3', '', 'sendrecv'), CALLER);
    await settle();
    const refused = sentTo(CALLER.address, 'SIP/2.0 500').map((d) => parsed(d) as SipResponse);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.cseq.seq).toBe(3);
    expect(refused[0]!.headers.get('Retry-After')).toMatch(/^\d+$/);
  });

  it('a BYE during a pending re-INVITE ends both sides, answers the re-INVITE 487 and writes the CDR', async () => {
    const { bInvite, aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    h.mem.inject(aInDialog('BYE', 3, aTag, 'abye'), CALLER);
    await settle();
    expect(statusesTo(CALLER.address, 'BYE')).toEqual([200]);
    expect(statusesTo(CALLER.address, 'INVITE').filter((st) => st >= 200)).toEqual([200, 487]);
    const bye = parsed(sentTo(PHONE.address, 'BYE')[0]) as SipRequest;
    expect(bye.callId).toBe(bInvite.callId);
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(h.service.activeCalls()).toEqual([]);

    // The callee answers the re-INVITE late: it is ACKed, nothing more reaches the caller.
    h.mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'recvonly') }), PHONE);
    await settle();
    h.clock.advance(2_000);
    await settle();
    const reinviteAnswers = sentTo(CALLER.address, 'SIP/2.0').map((d) => parsed(d) as SipResponse).filter((r) => r.cseq.seq === 2);
    expect(new Set(reinviteAnswers.map((r) => r.status))).toEqual(new Set([100, 487]));
    expect(sentTo(PHONE.address, 'ACK').map((d) => (parsed(d) as SipRequest).cseq.seq)).toContain(2);
  });

  it('relays an offerless re-INVITE: the ACK toward the callee waits for the caller ACK and carries its SDP answer', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    expect(relayed.body.length).toBe(0);
    h.mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'sendrecv') }), PHONE);
    await settle();
    const offer = sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse).find((r) => r.cseq.seq === 2);
    expect(offer?.body.toString()).toContain(`c=IN IP4 ${PHONE.address}`);
    expect(sentTo(PHONE.address, 'ACK').map((d) => (parsed(d) as SipRequest).cseq.seq)).toEqual([1]);

    h.mem.inject(aInDialog('ACK', 2, aTag, 'aack2', '', 'recvonly'), CALLER);
    await settle();
    const acks = sentTo(PHONE.address, 'ACK').map((d) => parsed(d) as SipRequest);
    expect(acks.map((a) => a.cseq.seq)).toEqual([1, 2]);
    expect(acks[1]!.headers.get('Content-Type')).toBe('application/sdp');
    expect(acks[1]!.body.toString()).toContain('a=recvonly');
    expect(acks[1]!.body.toString()).toContain(`c=IN IP4 ${CALLER.address}`);
  });

  it('still ACKs the callee of an offerless re-INVITE when the caller never ACKs', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    h.mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20') }), PHONE);
    await settle();
    for (let i = 0; i < 70; i++) {
      h.clock.advance(1_000);
      await settle();
    }
    const acks = sentTo(PHONE.address, 'ACK').map((d) => parsed(d) as SipRequest);
    expect(acks.map((a) => a.cseq.seq)).toEqual([1, 2]);
    expect(acks[1]!.body.length).toBe(0);
  });

  it('a retransmitted 2xx of a relayed re-INVITE gets the same ACK again (RFC 6026 Accepted)', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    const ok = replyTo(relayed, 200, { body: sdp('192.168.1.20', 'recvonly') });
    h.mem.inject(ok, PHONE);
    await settle();
    h.mem.inject(ok, PHONE);
    await settle();
    const acks = sentTo(PHONE.address, 'ACK').filter((d) => (parsed(d) as SipRequest).cseq.seq === 2);
    expect(acks).toHaveLength(2);
    expect(acks[1]!.data.equals(acks[0]!.data)).toBe(true);
    // The caller got one answer: the retransmission is not relayed again.
    expect(sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse).filter((r) => r.cseq.seq === 2)).toHaveLength(1);
  });
});
