import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.ts';

describe('EventBus', () => {
  it('numbers events and delivers only the subscribed tenant and types', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe({ tenantId: 1, types: ['registration.*'] }, (e) => seen.push(`${e.seq}:${e.type}`));
    bus.emit({ type: 'registration.added', tenantId: 1 });
    bus.emit({ type: 'registration.added', tenantId: 2 });
    bus.emit({ type: 'call.created', tenantId: 1 });
    bus.emit({ type: 'registration.expired', tenantId: '1' });
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
    bus.emit({ type: 'x', tenantId: null });
    expect(got).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('replays from a sequence number and reports when the backlog no longer reaches', () => {
    const bus = new EventBus({ backlogSize: 3 });
    for (let i = 0; i < 5; i++) bus.emit({ type: 'call.ended', tenantId: i % 2 });
    expect(bus.since(3)?.map((e) => e.seq)).toEqual([4, 5]);
    expect(bus.since(3, { tenantId: 0 })?.map((e) => e.seq)).toEqual([5]);
    expect(bus.since(0)).toBeUndefined();
  });
});
