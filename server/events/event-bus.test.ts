import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.ts';
import type { PatchbayEvent } from './event-types.ts';

function added(tenantId: number): PatchbayEvent {
  return {
    type: 'registration.added', tenantId, accountId: 1, user: '1001', domain: 'a.test', bindingId: 'b1',
    contactUri: 'sip:1001@10.0.0.1', source: { transport: 'udp', address: '10.0.0.1', port: 5060 }, sipCallId: 'r1', expiresAt: 0,
  };
}

function ended(tenantId: number): PatchbayEvent {
  const party = { uri: 'sip:1001@a.test' };
  return { type: 'call.ended', tenantId, callId: 'c', at: 1, direction: 'internal', caller: party, callee: party, hungUpBy: 'caller', status: 200, reason: 'OK' };
}

describe('EventBus', () => {
  it('numbers events and delivers only the subscribed tenant and types', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe({ tenantId: 1, types: ['registration.*'] }, (e) => seen.push(`${e.seq}:${e.type}`));
    bus.emit(added(1));
    bus.emit(added(2));
    bus.emit(ended(1));
    bus.emit({ ...added(1), type: 'registration.expired' } as PatchbayEvent);
    expect(seen).toEqual(['1:registration.added', '4:registration.expired']);
  });

  it('isolates a throwing listener and keeps delivering to others', () => {
    const errors: unknown[] = [];
    const bus = new EventBus({ onListenerError: (e) => errors.push(e) });
    let got = 0;
    bus.subscribe({}, () => {
      throw new Error('bad consumer');
    });
    bus.subscribe({}, () => got++);
    bus.emit(ended(1));
    expect(got).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('replays from a sequence number and reports when the backlog no longer reaches', () => {
    const bus = new EventBus({ backlogSize: 3 });
    for (let i = 0; i < 5; i++) bus.emit(ended(i % 2));
    expect(bus.since(3)?.map((e) => e.seq)).toEqual([4, 5]);
    expect(bus.since(3, { tenantId: 0 })?.map((e) => e.seq)).toEqual([5]);
    expect(bus.since(0)).toBeUndefined();
  });

  it('delivers an event emitted by a listener after the one that caused it, to every subscriber in seq order', () => {
    const bus = new EventBus();
    bus.subscribe({ types: ['call.ended'] }, (e) => {
      if (e.tenantId === 1) bus.emit(ended(2));
    });
    const late: number[] = [];
    bus.subscribe({}, (e) => late.push(e.seq));
    bus.emit(ended(1));
    expect(late).toEqual([1, 2]);
  });

  it('matches `*` and prefixes', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe({ types: ['*'] }, (e) => seen.push(e.type));
    bus.subscribe({ types: ['call.*'] }, (e) => seen.push(`call:${e.type}`));
    bus.emit(added(1));
    bus.emit(ended(1));
    expect(seen).toEqual(['registration.added', 'call.ended', 'call:call.ended']);
  });
});
