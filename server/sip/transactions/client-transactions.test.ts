import { describe, expect, it } from 'vitest';
import type { SipResponse } from '../message.ts';
import { flush, memoryStack, outgoingInvite, parsed, responseText } from './test-helpers.ts';

const TARGET = { transport: 'udp' as const, address: '10.0.0.2', port: 5060 };

function recorder() {
  const events: string[] = [];
  const finals: SipResponse[] = [];
  return {
    events,
    finals,
    handler: {
      onProvisional: (r: SipResponse) => events.push(`prov ${r.status}`),
      onFinal: (r: SipResponse) => {
        events.push(`final ${r.status}`);
        finals.push(r);
      },
      onTimeout: () => events.push('timeout'),
      onTransportError: (e: Error) => events.push(`error ${e.message}`),
    },
  };
}

describe('INVITE client transaction (RFC 3261 §17.1.1)', () => {
  it('Timer A retransmits at T1, 2T1, 4T1… and Timer B times out at 64*T1', async () => {
    const { clock, transport, stack } = await memoryStack();
    const rec = recorder();
    stack.sendRequest(outgoingInvite(), { target: TARGET, handler: rec.handler });
    await flush();
    const sends = () => transport.sentStartingWith('INVITE').length;
    expect(sends()).toBe(1);
    const sendTimes: number[] = [0];
    for (let t = 100; t <= 40_000; t += 100) {
      const before = sends();
      clock.advance(100);
      if (sends() > before) sendTimes.push(t);
    }
    expect(sendTimes).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(rec.events).toEqual(['timeout']);
    expect(stack.transactionCount.client).toBe(0);
    const sent = transport.sent[0]!;
    expect(sent.target).toMatchObject(TARGET);
    expect(sent.text).toMatch(/^Via: SIP\/2\.0\/UDP 10\.0\.0\.1:5060;branch=z9hG4bK[^;\r]+;rport\r$/m);
  });

  it('stopRetransmitting (a TU giving up on a silent target): no more INVITEs, a late response is still matched until Timer B', async () => {
    const { clock, transport, stack } = await memoryStack();
    const rec = recorder();
    const tx = stack.sendRequest(outgoingInvite(), { target: TARGET, handler: rec.handler });
    await flush();
    clock.advance(600);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(2);
    tx.stopRetransmitting?.();
    clock.advance(20_000);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(2);
    transport.inject(responseText(transport.sent[0]!.text, 180), TARGET);
    expect(rec.events).toEqual(['prov 180']);
  });

  it('a provisional stops Timer A; a non-2xx final is ACKed inside the transaction with the same branch', async () => {
    const { clock, transport, stack } = await memoryStack();
    const rec = recorder();
    stack.sendRequest(outgoingInvite(), { target: TARGET, handler: rec.handler });
    await flush();
    const invite = transport.sent[0]!.text;
    transport.inject(responseText(invite, 180), TARGET);
    clock.advance(10_000);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(1);
    transport.inject(responseText(invite, 486), TARGET);
    const acks = transport.sentStartingWith('ACK');
    expect(acks).toHaveLength(1);
    const ack = parsed(acks[0]!.text);
    const inv = parsed(invite);
    expect(ack.topVia.branch).toBe(inv.topVia.branch);
    expect(ack.cseq).toEqual({ seq: 7, method: 'ACK' });
    expect(ack.to.params['tag']).toBe('bobtag');
    expect(ack.callId).toBe('out-1@patchbay');
    expect(acks[0]!.target).toMatchObject(TARGET);
    // A retransmitted final re-triggers the ACK but is not passed up again.
    transport.inject(responseText(invite, 486), TARGET);
    expect(transport.sentStartingWith('ACK')).toHaveLength(2);
    expect(rec.events).toEqual(['prov 180', 'final 486']);
    expect(stack.transactionCount.client).toBe(1);
    clock.advance(32_000); // Timer D
    expect(stack.transactionCount.client).toBe(0);
  });

  it('a 2xx turns it Accepted (RFC 6026): further 2xx, same or another fork, go to the TU until Timer M; the INVITE is not resent', async () => {
    const { clock, transport, stack } = await memoryStack();
    const rec = recorder();
    const accepted: string[] = [];
    const strays: string[] = [];
    stack.onStrayResponse = (r) => strays.push(`${r.status} ${r.to.params['tag']}`);
    const tx = stack.sendRequest(outgoingInvite(), { target: TARGET, handler: { ...rec.handler, onAccepted2xx: (r) => accepted.push(`${r.status} ${r.to.params['tag']}`) } });
    await flush();
    const invite = transport.sent[0]!.text;
    transport.inject(responseText(invite, 200), TARGET);
    expect(rec.events).toEqual(['final 200']);
    expect(tx.state).toBe('Accepted');
    transport.inject(responseText(invite, 200), TARGET);
    transport.inject(responseText(invite, 200, 'forktag'), TARGET);
    expect(accepted).toEqual(['200 bobtag', '200 forktag']);
    expect(rec.events).toEqual(['final 200']);
    // The ACKs are the TU's (§13.2.2.4); Timer A is over: no INVITE goes out again.
    clock.advance(31_999);
    expect(transport.sentStartingWith('ACK')).toHaveLength(0);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(1);
    expect(stack.transactionCount.client).toBe(1);
    clock.advance(1); // Timer M = 64*T1
    expect(tx.state).toBe('Terminated');
    expect(stack.transactionCount.client).toBe(0);
    transport.inject(responseText(invite, 200), TARGET);
    expect(strays).toEqual(['200 bobtag']);
    expect(accepted).toHaveLength(2);
  });

  it('Timer M applies on reliable transports too', async () => {
    const { clock, transport, stack } = await memoryStack('tcp');
    const accepted: string[] = [];
    stack.sendRequest(outgoingInvite(), { target: { ...TARGET, transport: 'tcp' }, handler: { onAccepted2xx: (r) => accepted.push(r.to.params['tag']!) } });
    await flush();
    const invite = transport.sent[0]!.text;
    transport.inject(responseText(invite, 200), { ...TARGET, transport: 'tcp' });
    clock.advance(31_000);
    transport.inject(responseText(invite, 200, 'fork2'), { ...TARGET, transport: 'tcp' });
    expect(accepted).toEqual(['fork2']);
  });

  it('a TU without onAccepted2xx still sees further 2xx, as stray responses', async () => {
    const { transport, stack } = await memoryStack();
    const rec = recorder();
    const strays: number[] = [];
    stack.onStrayResponse = (r) => strays.push(r.status);
    stack.sendRequest(outgoingInvite(), { target: TARGET, handler: rec.handler });
    await flush();
    const invite = transport.sent[0]!.text;
    transport.inject(responseText(invite, 200), TARGET);
    transport.inject(responseText(invite, 200), TARGET);
    expect(rec.events).toEqual(['final 200']);
    expect(strays).toEqual([200]);
  });

  it('a non-2xx after the 2xx is not passed up in Accepted', async () => {
    const { transport, stack } = await memoryStack();
    const rec = recorder();
    const accepted: number[] = [];
    stack.sendRequest(outgoingInvite(), { target: TARGET, handler: { ...rec.handler, onAccepted2xx: (r) => accepted.push(r.status) } });
    await flush();
    const invite = transport.sent[0]!.text;
    transport.inject(responseText(invite, 200), TARGET);
    transport.inject(responseText(invite, 486, 'late'), TARGET);
    transport.inject(responseText(invite, 180, 'late'), TARGET);
    expect(rec.events).toEqual(['final 200']);
    expect(accepted).toEqual([]);
    expect(transport.sentStartingWith('ACK')).toHaveLength(0);
  });

  it('no retransmissions over a reliable transport, Timer B still applies', async () => {
    const { clock, transport, stack } = await memoryStack('tcp');
    const rec = recorder();
    stack.sendRequest(outgoingInvite(), { target: { ...TARGET, transport: 'tcp' }, handler: rec.handler });
    await flush();
    clock.advance(31_999);
    expect(transport.sentStartingWith('INVITE')).toHaveLength(1);
    expect(rec.events).toEqual([]);
    clock.advance(1);
    expect(rec.events).toEqual(['timeout']);
  });

  it('cancel() waits for a provisional, then sends CANCEL with the INVITE branch; the 487 is ACKed', async () => {
    const { transport, stack } = await memoryStack();
    const rec = recorder();
    const tx = stack.sendRequest(outgoingInvite(), { target: TARGET, handler: rec.handler });
    await flush();
    const invite = transport.sent[0]!.text;
    tx.cancel();
    expect(transport.sentStartingWith('CANCEL')).toHaveLength(0);
    transport.inject(responseText(invite, 100), TARGET);
    const cancels = transport.sentStartingWith('CANCEL');
    expect(cancels).toHaveLength(1);
    const cancel = parsed(cancels[0]!.text);
    expect(cancel.topVia.branch).toBe(parsed(invite).topVia.branch);
    expect(cancel.cseq).toEqual({ seq: 7, method: 'CANCEL' });
    expect(cancel.to.params['tag']).toBeUndefined();
    transport.inject(responseText(cancels[0]!.text, 200), TARGET);
    transport.inject(responseText(invite, 487), TARGET);
    expect(rec.events).toEqual(['prov 100', 'final 487']);
    expect(transport.sentStartingWith('ACK')).toHaveLength(1);
  });

  it('a send failure is reported as a transport error', async () => {
    const { transport, stack } = await memoryStack();
    transport.failSendsWith = new Error('unreachable');
    const rec = recorder();
    stack.sendRequest(outgoingInvite(), { target: TARGET, handler: rec.handler });
    await flush();
    await flush();
    expect(rec.events).toEqual(['error unreachable']);
    expect(stack.transactionCount.client).toBe(0);
  });

  it('a target connection that is gone is a transport error', async () => {
    const { transport, stack } = await memoryStack('tcp');
    const rec = recorder();
    stack.sendRequest(outgoingInvite('OPTIONS'), { target: { ...TARGET, transport: 'tcp', connectionId: 'tcp-gone' }, handler: rec.handler });
    await flush();
    await flush();
    expect(rec.events).toEqual(['error connection tcp-gone is closed']);
    expect(transport.sent).toHaveLength(0);
  });
});

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('Timer E doubles up to T2, Timer F times out at 64*T1', async () => {
    const { clock, transport, stack } = await memoryStack();
    const rec = recorder();
    stack.sendRequest(outgoingInvite('OPTIONS'), { target: TARGET, handler: rec.handler });
    await flush();
    const sends = () => transport.sentStartingWith('OPTIONS').length;
    const sendTimes: number[] = [0];
    for (let t = 100; t <= 40_000; t += 100) {
      const before = sends();
      clock.advance(100);
      if (sends() > before) sendTimes.push(t);
    }
    expect(sendTimes).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(rec.events).toEqual(['timeout']);
  });

  it('in Proceeding Timer E fires every T2; a final stops it; Timer K absorbs retransmitted finals', async () => {
    const { clock, transport, stack } = await memoryStack();
    const rec = recorder();
    stack.sendRequest(outgoingInvite('OPTIONS'), { target: TARGET, handler: rec.handler });
    await flush();
    const req = transport.sent[0]!.text;
    transport.inject(responseText(req, 100), TARGET);
    clock.advance(499);
    expect(transport.sentStartingWith('OPTIONS')).toHaveLength(1);
    clock.advance(1); // E was armed at T1 before the 100 arrived
    expect(transport.sentStartingWith('OPTIONS')).toHaveLength(2);
    clock.advance(4000);
    expect(transport.sentStartingWith('OPTIONS')).toHaveLength(3);
    transport.inject(responseText(req, 200), TARGET);
    transport.inject(responseText(req, 200), TARGET);
    clock.advance(4000);
    expect(transport.sentStartingWith('OPTIONS')).toHaveLength(3);
    expect(rec.events).toEqual(['prov 100', 'final 200']);
    expect(stack.transactionCount.client).toBe(1);
    clock.advance(1000); // Timer K = T4
    expect(stack.transactionCount.client).toBe(0);
  });

  it('Timer K is zero on reliable transports', async () => {
    const { transport, stack, clock } = await memoryStack('tcp');
    const rec = recorder();
    stack.sendRequest(outgoingInvite('OPTIONS'), { target: { ...TARGET, transport: 'tcp' }, handler: rec.handler });
    await flush();
    transport.inject(responseText(transport.sent[0]!.text, 404), TARGET);
    clock.advance(0);
    expect(stack.transactionCount.client).toBe(0);
    expect(rec.events).toEqual(['final 404']);
  });

  it('picks the next hop from the Request-URI when no target is given', async () => {
    const { transport, stack } = await memoryStack('tcp');
    const req = outgoingInvite('OPTIONS');
    req.uri.params['transport'] = 'tcp';
    req.uri.port = 5070;
    stack.sendRequest(req);
    await flush();
    expect(transport.sent[0]!.target).toMatchObject({ transport: 'tcp', address: '10.0.0.2', port: 5070 });
    expect(transport.sent[0]!.text).toContain('Via: SIP/2.0/TCP 10.0.0.1:5060;branch=');
  });
});
