import { describe, expect, it } from 'vitest';
import type { Endpoint, SipRequest } from '../sip/index.ts';
import type { ClientTransaction, ClientTransactionHandler } from '../sip/index.ts';
import { NatKeepAlive, type KeepAliveTransport } from './nat-keep-alive.ts';
import { makeAccount, makeHarness } from './test-support.ts';

class FakeStack implements KeepAliveTransport {
  readonly keepAlives: Endpoint[] = [];
  readonly requests: Array<{ req: SipRequest; target?: Endpoint; handler?: ClientTransactionHandler }> = [];

  sendKeepAlive(target: Endpoint): void {
    this.keepAlives.push(target);
  }

  sendRequest(req: SipRequest, opts: { target?: Endpoint; handler?: ClientTransactionHandler }): ClientTransaction {
    this.requests.push({ req, ...opts });
    return { request: req, state: 'Trying', cancel: () => {} };
  }
}

async function setup(keepAliveMethod: 'crlf' | 'options' = 'crlf') {
  const h = makeHarness();
  h.directory.add(makeAccount('nat', 'x', { natKeepAlive: true, keepAliveMethod, allowedCidrs: ['203.0.113.0/24'], trustUdpSource: true }));
  h.directory.add(makeAccount('plain', 'x', { allowedCidrs: ['203.0.113.0/24'], trustUdpSource: true }));
  await h.register({ user: 'nat', contacts: ['<sip:nat@192.168.1.20:5060>'], source: { transport: 'udp', address: '203.0.113.5', port: 40000 } });
  await h.register({ user: 'nat', callId: 'tcp', contacts: ['<sip:nat@192.168.1.21;transport=tcp>'], source: { transport: 'tcp', address: '203.0.113.6', port: 50000, connectionId: 'c1' } });
  await h.register({ user: 'plain', contacts: ['<sip:plain@192.168.1.30>'] });
  const stack = new FakeStack();
  const keepAlive = new NatKeepAlive({ stack, location: h.location });
  return { h, stack, keepAlive };
}

describe('NatKeepAlive', () => {
  it('sends CRLF keep-alives to UDP bindings of flagged accounts only, to the source address', async () => {
    const { stack, keepAlive } = await setup();
    expect(keepAlive.sendKeepAlives()).toBe(1);
    expect(stack.keepAlives).toEqual([{ transport: 'udp', address: '203.0.113.5', port: 40000 }]);
    expect(stack.requests).toHaveLength(0);
  });

  it('sends OPTIONS instead when the account asks for it', async () => {
    const { stack, keepAlive } = await setup('options');
    keepAlive.sendKeepAlives();
    expect(stack.keepAlives).toHaveLength(0);
    expect(stack.requests).toHaveLength(1);
    expect(stack.requests[0].req.method).toBe('OPTIONS');
    expect(stack.requests[0].target).toEqual({ transport: 'udp', address: '203.0.113.5', port: 40000 });
  });

  it('qualifies flagged bindings and removes those that time out or fail', async () => {
    const { h, stack, keepAlive } = await setup();
    expect(keepAlive.qualify()).toBe(2);
    expect(stack.requests.map((r) => r.req.uri.host).sort()).toEqual(['192.168.1.20', '192.168.1.21']);
    expect(stack.requests[0].req.headers.get('CSeq')).toBe('1 OPTIONS');
    // No second probe while one is in flight.
    expect(keepAlive.qualify()).toBe(0);

    const udp = stack.requests.find((r) => r.target?.transport === 'udp')!;
    const tcp = stack.requests.find((r) => r.target?.transport === 'tcp')!;
    udp.handler?.onTimeout?.();
    tcp.handler?.onTransportError?.(new Error('connection reset'));
    expect(h.location.lookup('nat', 'example.com')).toHaveLength(0);
    expect(h.location.lookup('plain', 'example.com')).toHaveLength(1);
    const removed = h.events.filter((e) => e.type === 'registration.removed').map((e) => 'reason' in e && e.reason).sort();
    expect(removed).toEqual(['qualify-timeout', 'transport-error']);
    expect(keepAlive.probesInFlight).toBe(0);
  });

  it('keeps bindings whose device answers (any status) or re-registered meanwhile', async () => {
    const { h, stack, keepAlive } = await setup();
    keepAlive.qualify();
    const udp = stack.requests.find((r) => r.target?.transport === 'udp')!;
    const tcp = stack.requests.find((r) => r.target?.transport === 'tcp')!;
    const { SipResponse } = await import('../sip/message.ts');
    udp.handler?.onFinal?.(new SipResponse({ status: 405 }));
    h.clock.advance(5_000);
    await h.register({ user: 'nat', callId: 'tcp', contacts: ['<sip:nat@192.168.1.21;transport=tcp>'], source: { transport: 'tcp', address: '203.0.113.6', port: 50000, connectionId: 'c1' } });
    tcp.handler?.onTimeout?.();
    expect(h.location.lookup('nat', 'example.com')).toHaveLength(2);
    expect(h.events.some((e) => e.type === 'registration.removed')).toBe(false);
  });

  it('gives up on a probe still unanswered when the next qualify round starts', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('nat', 'x', { natKeepAlive: true, allowedCidrs: ['203.0.113.0/24'], trustUdpSource: true }));
    await h.register({ user: 'nat', contacts: ['<sip:nat@192.168.1.20:5060>'], source: { transport: 'udp', address: '203.0.113.5', port: 40000 } });
    const stack = new FakeStack();
    const keepAlive = new NatKeepAlive({ stack, location: h.location, qualifyIntervalSec: 2 });
    expect(keepAlive.qualify()).toBe(1);
    h.clock.advance(1_999);
    expect(keepAlive.qualify()).toBe(0);
    expect(h.location.lookup('nat', 'example.com')).toHaveLength(1);
    h.clock.advance(1);
    keepAlive.qualify();
    expect(h.location.lookup('nat', 'example.com')).toHaveLength(0);
    expect(h.events.filter((e) => e.type === 'registration.removed').map((e) => 'reason' in e && e.reason)).toEqual(['qualify-timeout']);
    // The transaction's own Timer F later must neither remove twice nor disturb the bookkeeping.
    stack.requests[0].handler?.onTimeout?.();
    expect(h.events.filter((e) => e.type === 'registration.removed')).toHaveLength(1);
    expect(keepAlive.probesInFlight).toBe(0);
  });
});
