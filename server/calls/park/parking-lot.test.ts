import { describe, expect, it } from 'vitest';
import { ParkingLot, parseParkSlots, type ParkedCall } from './parking-lot.ts';

/** A fake clock: timers run when the test advances time. */
function fakeTimers() {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  return {
    now: () => now,
    schedule: (ms: number, fn: () => void) => {
      const t = { at: now + ms, fn, cancelled: false };
      timers.push(t);
      return () => { t.cancelled = true; };
    },
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((x) => !x.cancelled && x.at <= now)) {
        t.cancelled = true;
        t.fn();
      }
    },
  };
}

function call(id: string): ParkedCall & { recalls: number } {
  return { id, recalls: 0, recall() { this.recalls++; } };
}

describe('ParkingLot', () => {
  it('allocates the lowest free slot per tenant; tenants do not share slots', () => {
    const t = fakeTimers();
    const lot = new ParkingLot({ first: 70, last: 72, recallSeconds: 120 }, t.schedule, t.now);
    expect(lot.firstFree(1)).toBe('70');
    expect(lot.park(1, '70', call('a'), 'x')).toBe(true);
    expect(lot.park(1, '70', call('b'), 'x')).toBe(false);
    expect(lot.firstFree(1)).toBe('71');
    expect(lot.firstFree(2)).toBe('70');
    expect(lot.park(1, '73', call('c'), 'x')).toBe(false);
    expect(lot.park(1, '070', call('c'), 'x')).toBe(false);
    lot.park(1, '71', call('d'), 'x');
    lot.park(1, '72', call('e'), 'x');
    expect(lot.firstFree(1)).toBeUndefined();
    expect(lot.list(1).map((e) => e.slot)).toEqual(['70', '71', '72']);
    expect(lot.get(2, '70')).toBeUndefined();
  });

  it('recalls after the timeout unless the call left its slot first', () => {
    const t = fakeTimers();
    const lot = new ParkingLot({ first: 70, last: 79, recallSeconds: 120 }, t.schedule, t.now);
    const recalled = call('a');
    const retrieved = call('b');
    lot.park(1, '70', recalled, 'x');
    lot.park(1, '71', retrieved, 'x');
    t.advance(60_000);
    expect(lot.leave(1, '71')?.call).toBe(retrieved);
    t.advance(59_999);
    expect(recalled.recalls).toBe(0);
    t.advance(1);
    expect(recalled.recalls).toBe(1);
    expect(retrieved.recalls).toBe(0);
    // The recalled call left its slot: it is free again.
    expect(lot.get(1, '70')).toBeUndefined();
  });

  it('never recalls with recallSeconds 0', () => {
    const t = fakeTimers();
    const lot = new ParkingLot({ first: 70, last: 79, recallSeconds: 0 }, t.schedule, t.now);
    const c = call('a');
    lot.park(1, '70', c, 'x');
    t.advance(10_000_000);
    expect(c.recalls).toBe(0);
  });

  it('parses slot ranges', () => {
    expect(parseParkSlots('70-79')).toEqual({ first: 70, last: 79 });
    expect(parseParkSlots(' 700 - 719 ')).toEqual({ first: 700, last: 719 });
    expect(parseParkSlots('79-70')).toBeUndefined();
    expect(parseParkSlots('1-500')).toBeUndefined();
    expect(parseParkSlots('seventy')).toBeUndefined();
  });

  it('each tenant its own range and recall time when given a per-tenant source', () => {
    const t = fakeTimers();
    const own = { first: 80, last: 81, recallSeconds: 5 };
    const lot = new ParkingLot({ get: (id: number) => (id === 1 ? own : { first: 70, last: 79, recallSeconds: 120 }), ready: () => undefined }, t.schedule, t.now);
    expect(lot.isSlot(1, '70')).toBe(false);
    expect(lot.isSlot(2, '70')).toBe(true);
    expect(lot.firstFree(1)).toBe('80');
    const a = call('a');
    const b = call('b');
    expect(lot.park(1, '70', a, 'x')).toBe(false);
    expect(lot.park(1, '80', a, 'x')).toBe(true);
    expect(lot.park(2, '70', b, 'x')).toBe(true);
    t.advance(5_000);
    expect([a.recalls, b.recalls]).toEqual([1, 0]);
    t.advance(115_000);
    expect(b.recalls).toBe(1);
  });
});
