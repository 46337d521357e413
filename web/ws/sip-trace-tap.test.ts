import { describe, expect, it } from 'vitest';
import { EventBus, type SipTraceEvent } from '../../server/events/index.ts';
import type { SipCallOwner } from '../../server/calls/index.ts';
import { SipTraceTap, type TrafficSource } from './sip-trace-tap.ts';

const PHONE = { transport: 'udp' as const, address: '10.0.0.9', port: 5062 };
const SWITCH = { transport: 'udp' as const, address: '10.0.0.1', port: 5060 };

function msg(firstLine: string, callId: string): Buffer {
  return Buffer.from(`${firstLine}\r\nVia: SIP/2.0/UDP 10.0.0.9:5062\r\ni: ${callId}\r\nCSeq: 1 INVITE\r\n\r\n`);
}

function setup() {
  const bus = new EventBus();
  const seen: SipTraceEvent[] = [];
  bus.subscribe({ types: ['sip.trace'] }, (e) => seen.push(e as SipTraceEvent & { seq: number }));
  const owners = new Map<string, SipCallOwner>();
  const stack: TrafficSource = { trafficObserver: undefined };
  const tap = new SipTraceTap({ stack, owners: { sipCallOwner: (id) => owners.get(id) }, bus });
  return { seen, owners, stack, tap };
}

describe('SipTraceTap', () => {
  it('leaves the stack unobserved until a tenant is watched, and again when none is', () => {
    const { stack, tap } = setup();
    expect(stack.trafficObserver).toBeUndefined();
    tap.setWatched(new Set([1]));
    expect(stack.trafficObserver).toBeTypeOf('function');
    tap.setWatched(new Set());
    expect(stack.trafficObserver).toBeUndefined();
  });

  it('holds messages sent before their call exists and emits them first, in order, once the Call-ID is claimed', () => {
    const { seen, owners, stack, tap } = setup();
    tap.setWatched(new Set([1]));
    stack.trafficObserver!('in', msg('INVITE sip:2000@a.test SIP/2.0', 'abc'), PHONE, SWITCH);
    stack.trafficObserver!('out', msg('SIP/2.0 407 Proxy Authentication Required', 'abc'), PHONE, SWITCH);
    stack.trafficObserver!('in', msg('OPTIONS sip:x SIP/2.0', 'stranger'), PHONE, SWITCH);
    expect(seen).toHaveLength(0);
    owners.set('abc', { tenantId: 1, callId: 'call-1', leg: 'a' });
    owners.set('b-leg', { tenantId: 1, callId: 'call-1', leg: 'b', legTarget: 'sip:uas@10.0.0.5' });
    stack.trafficObserver!('out', msg('SIP/2.0 180 Ringing', 'abc'), PHONE, SWITCH);
    stack.trafficObserver!('out', msg('INVITE sip:uas@10.0.0.5 SIP/2.0', 'b-leg'), PHONE, SWITCH);
    expect(seen.map((e) => `${e.leg} ${e.direction} ${e.text.split('\r\n')[0]}`)).toEqual([
      'a in INVITE sip:2000@a.test SIP/2.0', 'a out SIP/2.0 407 Proxy Authentication Required', 'a out SIP/2.0 180 Ringing', 'b out INVITE sip:uas@10.0.0.5 SIP/2.0',
    ]);
    expect(seen[0]).toMatchObject({ tenantId: 1, callId: 'call-1', sipCallId: 'abc', src: { address: '10.0.0.9', port: 5062 }, dst: { address: '10.0.0.1', port: 5060 } });
    expect(seen[2]).toMatchObject({ src: { address: '10.0.0.1' }, dst: { address: '10.0.0.9' } });
    expect(seen[3]).toMatchObject({ legTarget: 'sip:uas@10.0.0.5' });
  });

  it('emits nothing for a tenant nobody watches, and ignores keep-alives', () => {
    const { seen, owners, stack, tap } = setup();
    tap.setWatched(new Set([2]));
    owners.set('abc', { tenantId: 1, callId: 'call-1', leg: 'a' });
    stack.trafficObserver!('in', msg('BYE sip:x SIP/2.0', 'abc'), PHONE, SWITCH);
    stack.trafficObserver!('in', Buffer.from('\r\n\r\n'), PHONE, SWITCH);
    expect(seen).toHaveLength(0);
  });

  it('keeps a stranger reusing the caller’s Call-ID out of the call’s trace (the caller’s From tag tells them apart)', () => {
    const { seen, owners, stack, tap } = setup();
    tap.setWatched(new Set([1]));
    owners.set('abc', { tenantId: 1, callId: 'call-1', leg: 'a', tag: 'caller-tag' });
    const withTags = (first: string, from: string, to: string) =>
      Buffer.from(`${first}\r\nCall-ID: abc\r\nFrom: <sip:a@x>;tag=${from}\r\nTo: <sip:b@x>${to ? `;tag=${to}` : ''}\r\n\r\n`);
    stack.trafficObserver!('in', withTags('INVITE sip:b@x SIP/2.0', 'stranger', ''), PHONE, SWITCH);
    stack.trafficObserver!('in', withTags('ACK sip:b@x SIP/2.0', 'caller-tag', 'ours'), PHONE, SWITCH);
    stack.trafficObserver!('out', withTags('BYE sip:a@x SIP/2.0', 'ours', 'caller-tag'), PHONE, SWITCH);
    expect(seen.map((e) => e.text.split('\r\n')[0])).toEqual(['ACK sip:b@x SIP/2.0', 'BYE sip:a@x SIP/2.0']);
  });
});
