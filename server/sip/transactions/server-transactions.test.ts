import { describe, expect, it } from 'vitest';
import { createResponse, type SipRequest } from '../message.ts';
import type { ServerTransaction } from './transaction.ts';
import { memoryStack, parsed, PEER, requestText } from './test-helpers.ts';

/** Plain RFC 3261 transactions (the stateless refusals of out-of-dialog requests are tested below). */
async function withCore(kind: 'udp' | 'tcp' = 'udp', statelessRejects = false) {
  const env = await memoryStack(kind, { statelessRejects });
  const seen: Array<{ req: SipRequest; tx: ServerTransaction | undefined }> = [];
  env.stack.onRequest = (req, tx) => seen.push({ req, tx });
  const statuses = (prefix = 'SIP/2.0') => env.transport.sentStartingWith(prefix).map((s) => s.text.slice(8, 11));
  return { ...env, seen, statuses };
}

describe('INVITE server transaction (RFC 3261 §17.2.1)', () => {
  it('sends 100 Trying at once and absorbs retransmitted INVITEs, resending the last provisional', async () => {
    const { transport, seen, statuses } = await withCore();
    transport.inject(requestText(), PEER);
    expect(statuses()).toEqual(['100']);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.tx!.state).toBe('Proceeding');
    transport.inject(requestText(), PEER);
    expect(seen).toHaveLength(1);
    expect(statuses()).toEqual(['100', '100']);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 180, undefined, { toTag: 'srv' }));
    transport.inject(requestText(), PEER);
    expect(statuses()).toEqual(['100', '100', '180', '180']);
  });

  it('Timer G retransmits a non-2xx final (T1 doubling to T2) until Timer H', async () => {
    const { clock, transport, seen, stack } = await withCore();
    transport.inject(requestText(), PEER);
    const tx = seen[0]!.tx!;
    tx.respond(createResponse(seen[0]!.req, 486, undefined, { toTag: 'srv' }));
    expect(tx.state).toBe('Completed');
    const count = () => transport.sentStartingWith('SIP/2.0 486').length;
    const times: number[] = [0];
    for (let t = 100; t <= 40_000; t += 100) {
      const before = count();
      clock.advance(100);
      if (count() > before) times.push(t);
    }
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(tx.state).toBe('Terminated');
    expect(stack.transactionCount.server).toBe(0);
  });

  it('ACK for the non-2xx is absorbed: Confirmed, no more retransmissions, Timer I ends it', async () => {
    const { clock, transport, seen, stack } = await withCore();
    transport.inject(requestText(), PEER);
    const tx = seen[0]!.tx!;
    tx.respond(createResponse(seen[0]!.req, 603, undefined, { toTag: 'srv' }));
    clock.advance(500);
    expect(transport.sentStartingWith('SIP/2.0 603')).toHaveLength(2);
    transport.inject(requestText({ method: 'ACK', toTag: 'srv' }), PEER);
    expect(tx.state).toBe('Confirmed');
    expect(seen).toHaveLength(1); // the ACK does not reach the core
    transport.inject(requestText({ method: 'ACK', toTag: 'srv' }), PEER);
    clock.advance(4999);
    expect(transport.sentStartingWith('SIP/2.0 603')).toHaveLength(2);
    expect(stack.transactionCount.server).toBe(1);
    clock.advance(1);
    expect(tx.state).toBe('Terminated');
    expect(stack.transactionCount.server).toBe(0);
  });

  it('a retransmitted INVITE in Completed gets the final again', async () => {
    const { transport, seen } = await withCore();
    transport.inject(requestText(), PEER);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 404, undefined, { toTag: 'srv' }));
    transport.inject(requestText(), PEER);
    expect(transport.sentStartingWith('SIP/2.0 404')).toHaveLength(2);
    expect(seen).toHaveLength(1);
  });

  it('after a 2xx retransmitted INVITEs are absorbed (RFC 6026 Accepted) and the 2xx ACK reaches the core', async () => {
    const { clock, transport, seen, stack } = await withCore();
    transport.inject(requestText(), PEER);
    const tx = seen[0]!.tx!;
    tx.respond(createResponse(seen[0]!.req, 200, undefined, { toTag: 'srv' }));
    expect(tx.state).toBe('Accepted');
    transport.inject(requestText(), PEER);
    expect(seen).toHaveLength(1);
    expect(transport.sentStartingWith('SIP/2.0 200')).toHaveLength(1);
    transport.inject(requestText({ method: 'ACK', branch: 'z9hG4bKack2', toTag: 'srv' }), PEER);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.req.method).toBe('ACK');
    expect(seen[1]!.tx).toBeUndefined();
    clock.advance(32_000); // Timer L
    expect(stack.transactionCount.server).toBe(0);
  });

  it('no Timer G on reliable transports; Timer I is zero', async () => {
    const { clock, transport, seen, stack } = await withCore('tcp');
    transport.openConnections.add('c1');
    transport.inject(requestText({ viaTransport: 'TCP' }), { ...PEER, connectionId: 'c1' });
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 486, undefined, { toTag: 'srv' }));
    clock.advance(10_000);
    expect(transport.sentStartingWith('SIP/2.0 486')).toHaveLength(1);
    expect(transport.sent.every((s) => s.target.connectionId === 'c1')).toBe(true);
    transport.inject(requestText({ method: 'ACK', viaTransport: 'TCP', toTag: 'srv' }), { ...PEER, connectionId: 'c1' });
    clock.advance(0);
    expect(stack.transactionCount.server).toBe(0);
  });
});

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('absorbs retransmissions in Trying, resends the final in Completed, Timer J ends it', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore();
    transport.inject(requestText({ method: 'OPTIONS' }), PEER);
    transport.inject(requestText({ method: 'OPTIONS' }), PEER);
    expect(seen).toHaveLength(1);
    expect(transport.sent).toHaveLength(0); // no 100 for non-INVITE
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 200, undefined, { toTag: 'srv' }));
    transport.inject(requestText({ method: 'OPTIONS' }), PEER);
    expect(statuses()).toEqual(['200', '200']);
    clock.advance(31_999);
    expect(stack.transactionCount.server).toBe(1);
    clock.advance(1);
    expect(stack.transactionCount.server).toBe(0);
    transport.inject(requestText({ method: 'OPTIONS' }), PEER);
    expect(seen).toHaveLength(2); // now a new request
  });

  it('a provisional is resent on retransmission; Timer J is zero on reliable transports', async () => {
    const { transport, seen, stack, statuses, clock } = await withCore('tcp');
    transport.openConnections.add('c9');
    const src = { ...PEER, connectionId: 'c9' };
    transport.inject(requestText({ method: 'SUBSCRIBE', viaTransport: 'TCP' }), src);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 183));
    transport.inject(requestText({ method: 'SUBSCRIBE', viaTransport: 'TCP' }), src);
    expect(statuses()).toEqual(['183', '183']);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 202, undefined, { toTag: 'x' }));
    clock.advance(0);
    expect(stack.transactionCount.server).toBe(0);
  });

  it('a core that throws gets a 500 sent for it', async () => {
    const { transport, stack, statuses } = await withCore();
    stack.onRequest = () => {
      throw new Error('core bug');
    };
    transport.inject(requestText({ method: 'MESSAGE' }), PEER);
    expect(statuses()).toEqual(['500']);
  });
});

describe('CANCEL (RFC 3261 §9.2)', () => {
  it('answers CANCEL 200, lets the core react via onCancel, then 487s the INVITE', async () => {
    const { transport, seen, statuses } = await withCore();
    transport.inject(requestText(), PEER);
    const inviteTx = seen[0]!.tx!;
    let cancelled = 0;
    inviteTx.onCancel = () => cancelled++;
    transport.inject(requestText({ method: 'CANCEL' }), PEER);
    expect(cancelled).toBe(1);
    expect(statuses()).toEqual(['100', '200', '487']);
    const ok = parsed(transport.sentStartingWith('SIP/2.0 200')[0]!.text);
    expect(ok.cseq.method).toBe('CANCEL');
    const terminated = parsed(transport.sentStartingWith('SIP/2.0 487')[0]!.text);
    expect(terminated.cseq.method).toBe('INVITE');
    expect(inviteTx.state).toBe('Completed');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.req.method).toBe('CANCEL');
    expect(seen[1]!.tx!.cancelled).toBe(inviteTx);
    // the ACK for the 487 is absorbed
    transport.inject(requestText({ method: 'ACK', toTag: 'x' }), PEER);
    expect(seen).toHaveLength(2);
    expect(inviteTx.state).toBe('Confirmed');
  });

  it('no automatic 487 when the core answered the INVITE in onCancel', async () => {
    const { transport, seen, statuses } = await withCore();
    transport.inject(requestText(), PEER);
    const { req, tx } = seen[0]!;
    tx!.onCancel = () => tx!.respond(createResponse(req, 480, undefined, { toTag: 't' }));
    transport.inject(requestText({ method: 'CANCEL' }), PEER);
    expect(statuses()).toEqual(['100', '200', '480']);
  });

  it('a CANCEL after the final response is answered 200 and changes nothing', async () => {
    const { transport, seen, statuses } = await withCore();
    transport.inject(requestText(), PEER);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 200, undefined, { toTag: 't' }));
    transport.inject(requestText({ method: 'CANCEL' }), PEER);
    expect(statuses()).toEqual(['100', '200', '200']);
  });

  it('a CANCEL matching no transaction gets 481', async () => {
    const { transport, seen, statuses } = await withCore();
    transport.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKnothing' }), PEER);
    expect(statuses()).toEqual(['481']);
    expect(seen).toHaveLength(0);
  });
});

describe('response routing and malformed input (RFC 3261 §18.2, RFC 3581)', () => {
  it('adds received and fills rport, and answers to the source address and port', async () => {
    const { transport, seen } = await withCore();
    transport.inject(requestText({ method: 'OPTIONS', rport: true }), PEER);
    const req = seen[0]!.req;
    expect(req.topVia.received).toBe('10.0.0.9');
    expect(req.topVia.rport).toBe(40000);
    seen[0]!.tx!.respond(createResponse(req, 200, undefined, { toTag: 't' }));
    const sent = transport.sent[0]!;
    expect(sent.target).toMatchObject({ address: '10.0.0.9', port: 40000 });
    const res = parsed(sent.text);
    expect(res.topVia.received).toBe('10.0.0.9');
    expect(res.topVia.rport).toBe(40000);
  });

  it('without rport: received added, response to the Via port', async () => {
    const { transport, seen } = await withCore();
    transport.inject(requestText({ method: 'OPTIONS' }), PEER);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 200, undefined, { toTag: 't' }));
    expect(transport.sent[0]!.target).toMatchObject({ address: '10.0.0.9', port: 5062 });
  });

  it('no received when the Via host is the source address', async () => {
    const { transport, seen } = await withCore();
    transport.inject(requestText({ method: 'OPTIONS', viaHost: '10.0.0.9:5062' }), PEER);
    expect(seen[0]!.req.topVia.received).toBeUndefined();
  });

  it('answers a malformed request 400 with the reason, a wrong version 505, and drops what has no Via', async () => {
    const { transport, seen, statuses } = await withCore();
    transport.inject(requestText({ method: 'OPTIONS' }).replace('CSeq: 1 OPTIONS', 'CSeq: x OPTIONS'), PEER);
    transport.inject(requestText({ method: 'OPTIONS' }).replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), PEER);
    transport.inject(requestText({ method: 'OPTIONS' }).replace(/Via: [^\r]*\r\n/, ''), PEER);
    transport.inject('garbage\u0000\u0001', PEER);
    transport.inject(requestText({ method: 'ACK' }).replace('CSeq: 1 ACK', 'CSeq: 1'), PEER);
    expect(seen).toHaveLength(0);
    expect(statuses()).toEqual(['400', '505']);
    const bad = transport.sent[0]!.text;
    expect(bad.split('\r\n')[0]).toBe('SIP/2.0 400 Invalid CSeq header');
    expect(bad).toContain('Via: SIP/2.0/UDP phone.example.com:5062;branch=z9hG4bKabc1;received=10.0.0.9\r\n');
    expect(bad).toContain('Call-ID: call-1@phone\r\n');
    expect(parsed(transport.sent[1]!.text).callId).toBe('call-1@phone');
    expect(transport.sent[0]!.target).toMatchObject(PEER);
  });
});

describe('stack-generated responses', () => {
  it('the automatic 487 reuses the To tag of the provisional the core sent', async () => {
    const { transport, seen } = await withCore();
    transport.inject(requestText(), PEER);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 180, undefined, { toTag: 'ring1' }));
    transport.inject(requestText({ method: 'CANCEL' }), PEER);
    const r487 = parsed(transport.sentStartingWith('SIP/2.0 487')[0]!.text);
    expect(r487.to.params['tag']).toBe('ring1');
  });

  it('responseTargetFor gives the UDP received/rport and the connection for streams', async () => {
    const udp = await withCore();
    udp.transport.inject(requestText({ method: 'OPTIONS', rport: true }), PEER);
    expect(udp.stack.responseTargetFor(udp.seen[0]!.req)).toEqual({ transport: 'udp', address: '10.0.0.9', port: 40000 });
    const tcp = await withCore('tcp');
    tcp.transport.inject(requestText({ method: 'OPTIONS', viaTransport: 'TCP' }), { ...PEER, connectionId: 'k1' });
    expect(tcp.stack.responseTargetFor(tcp.seen[0]!.req)).toEqual({ transport: 'tcp', ...PEER, connectionId: 'k1' });
  });
});

describe('settled transactions keep bytes, not parsed messages', () => {
  it('a Completed non-INVITE transaction resends the serialized final and lets the request be collected', async () => {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const { clock, transport, stack, statuses } = await withCore();
    let held: { req: SipRequest; tx: ServerTransaction | undefined } | undefined;
    stack.onRequest = (req, tx) => (held = { req, tx });
    transport.inject(requestText({ method: 'REGISTER' }), PEER);
    const res = createResponse(held!.req, 200, undefined, { toTag: 'srv' });
    held!.tx!.respond(res);
    res.status = 599; // what was sent is what gets resent
    const request = new WeakRef(held!.req);
    held = undefined;
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(request.deref()).toBeUndefined();
    transport.inject(requestText({ method: 'REGISTER' }), PEER);
    expect(statuses()).toEqual(['200', '200']);
    expect(stack.transactionCount.server).toBe(1);
    clock.advance(32_000);
    expect(stack.transactionCount.server).toBe(0);
  });
});

describe('stateless refusals of out-of-dialog requests (Kamailio sl_send_reply)', () => {
  it('a spoofed INVITE refused at once gets exactly one 407, no 100, no Timer G, and leaves no table entry', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText({ branch: 'z9hG4bKspoof1' }), PEER);
    expect(stack.transactionCount.server).toBe(1); // while the core decides, retransmissions are absorbed
    transport.inject(requestText({ branch: 'z9hG4bKspoof1' }), PEER);
    expect(seen).toHaveLength(1);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 407, undefined, { toTag: 'srv' }));
    expect(stack.transactionCount.server).toBe(0);
    expect(seen[0]!.tx!.state).not.toBe('Proceeding');
    clock.advance(40_000);
    expect(statuses()).toEqual(['407']);
    expect(stack.securityCounters.statelessFinals).toBe(1);
    // Its ACK matches nothing: it reaches the core without a transaction (the core drops it).
    transport.inject(requestText({ method: 'ACK', branch: 'z9hG4bKspoof1', toTag: 'srv' }), PEER);
    expect(seen[1]!.req.method).toBe('ACK');
    expect(seen[1]!.tx).toBeUndefined();
  });

  it('1000 spoofed INVITEs, each refused: the table does not grow and nothing is resent', async () => {
    const { clock, transport, stack } = await withCore('udp', true);
    stack.onRequest = (req, tx) => tx?.respond(createResponse(req, 403, undefined, { toTag: 't' }));
    for (let i = 0; i < 1000; i++) transport.inject(requestText({ branch: `z9hG4bKf${i}`, callId: `flood-${i}` }), { ...PEER, port: 1000 + i });
    expect(stack.transactionCount.server).toBe(0);
    clock.advance(40_000);
    expect(transport.sentStartingWith('SIP/2.0')).toHaveLength(1000);
  });

  it('a core slower than the window: 100 Trying after 200 ms, then an ordinary stateful final with Timer G', async () => {
    const { clock, transport, seen, statuses } = await withCore('udp', true);
    transport.inject(requestText(), PEER);
    clock.advance(199);
    expect(statuses()).toEqual([]);
    clock.advance(1);
    expect(statuses()).toEqual(['100']);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 486, undefined, { toTag: 'srv' }));
    clock.advance(500);
    expect(statuses()).toEqual(['100', '486', '486']);
  });

  it('a call that rings within the window skips the 100 and stays stateful', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText(), PEER);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 180, undefined, { toTag: 'srv' }));
    clock.advance(1000);
    expect(statuses()).toEqual(['180']);
    expect(stack.transactionCount.server).toBe(1);
  });

  it('an out-of-dialog OPTIONS is answered statelessly, 200 included; a MESSAGE 200 keeps a transaction', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText({ method: 'OPTIONS', branch: 'z9hG4bKo1' }), PEER);
    transport.inject(requestText({ method: 'OPTIONS', branch: 'z9hG4bKo1' }), PEER);
    expect(seen).toHaveLength(1); // absorbed while the core decides
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 404, undefined, { toTag: 'x' }));
    transport.inject(requestText({ method: 'OPTIONS', branch: 'z9hG4bKo2' }), PEER);
    seen[1]!.tx!.respond(createResponse(seen[1]!.req, 200, undefined, { toTag: 'y' }));
    expect(stack.transactionCount.server).toBe(0);
    transport.inject(requestText({ method: 'MESSAGE', branch: 'z9hG4bKm1' }), PEER);
    seen[2]!.tx!.respond(createResponse(seen[2]!.req, 200, undefined, { toTag: 'z' }));
    expect(stack.transactionCount.server).toBe(1);
    transport.inject(requestText({ method: 'MESSAGE', branch: 'z9hG4bKm1' }), PEER);
    expect(seen).toHaveLength(3);
    clock.advance(40_000);
    expect(statuses()).toEqual(['404', '200', '200', '200']);
    expect(stack.transactionCount.server).toBe(0);
  });

  it('in a dialog only 481 is stateless: a forged re-INVITE gets one 481 and no 100; a 491 keeps Timer G', async () => {
    const { clock, transport, stack, statuses } = await withCore('udp', true);
    // Like the calls layer: an unknown dialog is refused synchronously, inside the delivery.
    stack.onRequest = (req, tx) => tx?.respond(createResponse(req, req.to.params.tag === 'forged' ? 481 : 491));
    transport.inject(requestText({ toTag: 'forged', branch: 'z9hG4bKd1' }), PEER);
    expect(stack.transactionCount.server).toBe(0);
    clock.advance(10_000);
    expect(statuses()).toEqual(['481']);
    transport.inject(requestText({ toTag: 'real', branch: 'z9hG4bKd2', cseq: 2 }), PEER);
    clock.advance(500);
    expect(statuses()).toEqual(['481', '491', '491']);
  });

  it('an in-dialog request the core does not answer at once gets its 100 right after delivery', async () => {
    const { transport, statuses } = await withCore('udp', true);
    transport.inject(requestText({ toTag: 'real' }), PEER);
    expect(statuses()).toEqual(['100']);
  });

  it('in a dialog a BYE 481 is stateless, a BYE 200 stateful', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText({ method: 'BYE', toTag: 'forged', branch: 'z9hG4bKb1' }), PEER);
    expect(stack.transactionCount.server).toBe(1); // pending: a retransmission is absorbed
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 481));
    expect(stack.transactionCount.server).toBe(0);
    transport.inject(requestText({ method: 'BYE', toTag: 'real', branch: 'z9hG4bKb2' }), PEER);
    seen[1]!.tx!.respond(createResponse(seen[1]!.req, 200));
    expect(stack.transactionCount.server).toBe(1);
    transport.inject(requestText({ method: 'BYE', toTag: 'real', branch: 'z9hG4bKb2' }), PEER);
    clock.advance(40_000);
    expect(statuses()).toEqual(['481', '200', '200']);
    expect(seen).toHaveLength(2);
  });

  it('a CANCEL inside the window: 200 for the CANCEL, the 487 goes out once, statelessly', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText({ branch: 'z9hG4bKc1' }), PEER);
    let cancelled = 0;
    seen[0]!.tx!.onCancel = () => cancelled++;
    transport.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKc1' }), PEER);
    expect(cancelled).toBe(1);
    clock.advance(40_000);
    expect(statuses()).toEqual(['200', '487']);
    expect(stack.transactionCount.server).toBe(0);
  });

  it('a CANCEL matching nothing gets one stateless 481', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKnothing' }), PEER);
    expect(stack.transactionCount.server).toBe(0);
    clock.advance(40_000);
    expect(statuses()).toEqual(['481']);
    expect(seen).toHaveLength(0);
  });

  it('once the core keeps state (call accepted) the 100 goes out at once and a later refusal is stateful', async () => {
    const { clock, transport, seen, stack, statuses } = await withCore('udp', true);
    transport.inject(requestText(), PEER);
    seen[0]!.tx!.keepState?.();
    expect(statuses()).toEqual(['100']);
    seen[0]!.tx!.respond(createResponse(seen[0]!.req, 480, undefined, { toTag: 'srv' }));
    expect(stack.transactionCount.server).toBe(1);
    clock.advance(500);
    expect(statuses()).toEqual(['100', '480', '480']);
    transport.inject(requestText(), PEER);
    expect(seen).toHaveLength(1);
  });

  it('drops requests over the source rate limit before any work', async () => {
    let allowed = 3;
    const seen: SipRequest[] = [];
    const { transport, stack } = await memoryStack('udp', { rateLimiter: { allow: () => allowed-- > 0 } });
    stack.onRequest = (req, tx) => {
      seen.push(req);
      tx?.respond(createResponse(req, 404, undefined, { toTag: 't' }));
    };
    for (let i = 0; i < 10; i++) transport.inject(requestText({ method: 'OPTIONS', branch: `z9hG4bKr${i}` }), PEER);
    expect(seen).toHaveLength(3);
    expect(transport.sentStartingWith('SIP/2.0')).toHaveLength(3);
    expect(stack.securityCounters.rateLimited).toBe(7);
  });
});
