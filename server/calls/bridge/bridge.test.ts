import { describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse } from '../../sip/index.ts';
import { A_INVITE, aInDialog, CALLER, parsed, PHONE, replyTo, request, sdp, settle, useBridgeHarness } from './bridge-test-support.ts';
import { makeAccount, TENANT } from '../call-test-support.ts';

/** The B2BUA over the in-memory transport: every message checked, time driven by hand. */

const h = useBridgeHarness();
const { sentTo, answeredCall } = h;

describe('B2BUA bridge', () => {
  it('sends the B leg to the binding flow with a NAT-fixed offer and a new dialog', async () => {
    const { bInvite } = await answeredCall();
    expect(sentTo(PHONE.address, 'INVITE')[0]!.target.port).toBe(PHONE.port);
    expect(bInvite.uri.host).toBe('192.168.1.20');
    expect(bInvite.callId).not.toBe('acall@192.168.0.10');
    expect(bInvite.maxForwards).toBe(69);
    expect(bInvite.body.toString()).toContain(`c=IN IP4 ${CALLER.address}`);
    expect(sentTo(CALLER.address, 'SIP/2.0 180')).toHaveLength(1);
  });

  it('answers the caller with the NAT-fixed answer and ACKs the callee with a Via', async () => {
    await answeredCall();
    const ok = parsed(sentTo(CALLER.address, 'SIP/2.0 200')[0]) as SipResponse;
    expect(ok.body.toString()).toContain(`c=IN IP4 ${PHONE.address}`);
    const ack = parsed(sentTo(PHONE.address, 'ACK')[0]) as SipRequest;
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.uri.host).toBe('192.168.1.20');
    expect(ack.headers.has('Via')).toBe(true);
    expect(h.events.map((e) => e.type)).toEqual(['call.created', 'call.party.joined', 'call.party.joined', 'leg.ringing', 'call.answered']);
  });

  it('retransmits the 2xx to the caller until the ACK arrives', async () => {
    const { aTag } = await answeredCall();
    h.clock.advance(500);
    expect(sentTo(CALLER.address, 'SIP/2.0 200')).toHaveLength(2);
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    await settle();
    h.clock.advance(10_000);
    expect(sentTo(CALLER.address, 'SIP/2.0 200')).toHaveLength(2);
  });

  it('re-ACKs a retransmitted 2xx from the callee', async () => {
    const { bInvite } = await answeredCall();
    h.mem.inject(replyTo(bInvite, 200, { body: sdp('192.168.1.20'), contact: '<sip:bob@192.168.1.20:5060>' }), PHONE);
    await settle();
    expect(sentTo(PHONE.address, 'ACK')).toHaveLength(2);
  });

  it('relays a hold re-INVITE with its direction and the answer back', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const reinvite = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    expect(reinvite.cseq).toEqual({ seq: 2, method: 'INVITE' });
    expect(reinvite.body.toString()).toContain('a=sendonly');
    expect(reinvite.body.toString()).toContain(`c=IN IP4 ${CALLER.address}`);
    h.mem.inject(replyTo(reinvite, 200, { toTag: 'btag', body: sdp('192.168.1.20', 'recvonly') }), PHONE);
    await settle();
    const oks = sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse);
    const reOk = oks.find((r) => r.cseq.seq === 2)!;
    expect(reOk.body.toString()).toContain('a=recvonly');
    expect(sentTo(PHONE.address, 'ACK').map((d) => (parsed(d) as SipRequest).cseq.seq)).toEqual([1, 2]);
    // The caller's phone held the callee: an event like the switchboard's hold, by that phone.
    expect(h.events.filter((e) => e.type === 'call.held')).toEqual([expect.objectContaining({ party: 'callee', by: 'phone:alice' })]);
    expect(h.service.controllableCalls(TENANT.id)[0]!.view()).toMatchObject({ held: 'callee' });

    // The same phone resumes (sendrecv): unheld.
    h.mem.inject(aInDialog('INVITE', 3, aTag, 'aresume', '', 'sendrecv'), CALLER);
    await settle();
    const resume = parsed(sentTo(PHONE.address, 'INVITE')[2]) as SipRequest;
    h.mem.inject(replyTo(resume, 200, { toTag: 'btag', body: sdp('192.168.1.20') }), PHONE);
    await settle();
    expect(h.events.filter((e) => e.type === 'call.unheld')).toEqual([expect.objectContaining({ party: 'callee', by: 'phone:alice' })]);
  });

  it('sees a hold in the answer of a late-offer re-INVITE: the caller ACKs the callee\'s offer sendonly, later sendrecv', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    const lateOffer = async (seq: number, answer: string): Promise<void> => {
      h.mem.inject(aInDialog('INVITE', seq, aTag, `areinv${seq}`), CALLER);
      await settle();
      const relayed = parsed(sentTo(PHONE.address, 'INVITE').at(-1)) as SipRequest;
      expect(relayed.cseq.seq).toBe(seq);
      h.mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'sendrecv') }), PHONE);
      await settle();
      // No answer yet: an offer alone holds nobody.
      expect(h.events.filter((e) => e.type === 'call.held' || e.type === 'call.unheld')).toHaveLength(seq - 2);
      h.mem.inject(aInDialog('ACK', seq, aTag, `aack${seq}`, '', answer), CALLER);
      await settle();
    };
    await lateOffer(2, 'sendonly');
    expect(h.events.filter((e) => e.type === 'call.held')).toEqual([expect.objectContaining({ party: 'callee', by: 'phone:alice' })]);
    expect(h.service.controllableCalls(TENANT.id)[0]!.view()).toMatchObject({ held: 'callee' });
    await lateOffer(3, 'sendrecv');
    expect(h.events.filter((e) => e.type === 'call.unheld')).toEqual([expect.objectContaining({ party: 'callee', by: 'phone:alice' })]);
    expect(h.service.controllableCalls(TENANT.id)[0]!.view().held).toBeUndefined();
  });

  it('refuses REFER with 603 and relays BYE to the other side', async () => {
    const { bInvite, aTag } = await answeredCall();
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    h.mem.inject(aInDialog('REFER', 2, aTag, 'arefer', '', undefined, ['Refer-To: <sip:0900123456@example.com>']), CALLER);
    await settle();
    expect(sentTo(PHONE.address, 'INVITE')).toHaveLength(1);
    const refused = sentTo(CALLER.address, 'SIP/2.0 603')[0]!;
    expect(refused.text).toContain('603 Transfers are disabled on this call');
    expect(h.events.some((e) => e.type === 'call.transfer.refused')).toBe(true);

    h.mem.inject(aInDialog('REFER', 3, aTag, 'arefer2'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 400')[0]!.text).toContain('400 Missing Refer-To');

    h.mem.inject(aInDialog('BYE', 4, aTag, 'abye'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 200').some((d) => d.text.includes('BYE'))).toBe(true);
    const bye = parsed(sentTo(PHONE.address, 'BYE')[0]) as SipRequest;
    expect(bye.callId).toBe(bInvite.callId);
    expect(bye.from.params['tag']).toBe(bInvite.from.params['tag']);
    expect(bye.to.params['tag']).toBe('btag');
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(cdr!.tenantId).toBe(String(TENANT.id));
    expect(h.service.activeCalls()).toEqual([]);
  });

  it('answers 500 to an in-dialog request with a lower CSeq', async () => {
    const { aTag } = await answeredCall();
    h.mem.inject(aInDialog('INFO', 5, aTag, 'ainfo5'), CALLER);
    await settle();
    h.mem.inject(aInDialog('INFO', 4, aTag, 'ainfo4'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 500')).toHaveLength(1);
  });

  it('runs the dialplan and resolves a failed Dial with the callee status', async () => {
    h.accounts.add(makeAccount('dave', { inDialplan: 'main' }));
    h.location.addUdp('dave', 41000, '203.0.113.30');
    h.dialplans.plans.set(`${TENANT.id}/main`, { js: '', sourceMap: '' });
    let dialResult: unknown;
    h.runner = {
      run: async (_p, host) => {
        dialResult = await host.call('Dial', ['dave@local', { ringTimeout: 30 }]);
        return { status: 'completed' };
      },
    };
    h.mem.inject(A_INVITE.replace(/bob@example.com/g, 'dave@example.com'), CALLER);
    await settle();
    const bInvite = parsed(sentTo('203.0.113.30', 'INVITE')[0]) as SipRequest;
    h.mem.inject(replyTo(bInvite, 486), { address: '203.0.113.30', port: 41000 });
    await settle();
    expect(dialResult).toEqual({ answered: false, status: 486, reason: 'Busy Here', outcome: 'busy' });
    expect(sentTo(CALLER.address, 'SIP/2.0 486')).toHaveLength(1);
  });

  it('challenges a call from a tenant account with 407 and refuses an incoming-only one', async () => {
    h.accounts.add(makeAccount('alice', { outDialplan: 'out' }));
    h.accounts.add(makeAccount('ivan', { incomingOnly: true, allowedCidrs: ['198.51.100.0/24'], trustUdpSource: true }));
    h.mem.inject(A_INVITE.replace('alice@elsewhere.example', 'alice@example.com'), CALLER);
    await settle();
    const challenge = sentTo(CALLER.address, 'SIP/2.0 407')[0]!;
    expect(challenge.text).toContain('Proxy-Authenticate: Digest');
    h.mem.inject(A_INVITE.replace('alice@elsewhere.example', 'ivan@example.com').replace('acall@', 'icall@').replace('z9hG4bKainv', 'z9hG4bKiinv'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 403')).toHaveLength(1);
  });

  it('answers 483 when Max-Forwards is 0', async () => {
    h.mem.inject(A_INVITE.replace('Max-Forwards: 70', 'Max-Forwards: 0'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 483')).toHaveLength(1);
  });

  it('hangs up both sides with a Reason header when the cd limit is reached', async () => {
    h.accounts.accounts.get('bob')!.inDialplan = 'limited';
    h.dialplans.plans.set(`${TENANT.id}/limited`, { js: '', sourceMap: '' });
    let dialResult: unknown;
    h.runner = {
      run: async (_p, host) => {
        dialResult = await host.call('Dial', ['bob@local[cd=5]', {}]);
        return { status: 'completed' };
      },
    };
    const { aTag } = await answeredCall();
    expect(dialResult).toEqual({ answered: true, status: 200, reason: 'OK', outcome: 'answered' });
    h.mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    await settle();
    h.clock.advance(4_900);
    await settle();
    expect(sentTo(PHONE.address, 'BYE')).toHaveLength(0);
    h.clock.advance(200);
    await settle();
    const byes = [...sentTo(PHONE.address, 'BYE'), ...sentTo(CALLER.address, 'BYE')];
    expect(byes).toHaveLength(2);
    for (const b of byes) expect(b.text).toContain('Reason: SIP;cause=200;text="Call duration limit reached"');
    const [cdr] = await h.cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('system');
    expect(cdr!.durationSeconds).toBeGreaterThanOrEqual(0);
  });
});
