import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ManualClock, TimerWheel } from './timer-wheel.ts';

describe('TimerWheel', () => {
  it('fires timers in due order on one host timer', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ clock, resolutionMs: 0 });
    const fired: string[] = [];
    wheel.schedule(300, () => fired.push('c'));
    wheel.schedule(100, () => fired.push('a'));
    wheel.schedule(200, () => fired.push('b'));
    expect(wheel.size).toBe(3);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['a']);
    clock.advance(250);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(wheel.size).toBe(0);
  });

  it('cancelled timers never fire', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ clock });
    let n = 0;
    const h = wheel.schedule(100, () => n++);
    wheel.schedule(200, () => n += 10);
    wheel.cancel(h);
    wheel.cancel(h);
    expect(wheel.size).toBe(1);
    clock.advance(1000);
    expect(n).toBe(10);
  });

  it('timers scheduled from a callback fire later, and a throwing callback does not stop the wheel', () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const wheel = new TimerWheel({ clock, onError: (e) => errors.push(e) });
    const times: number[] = [];
    const tick = () => {
      times.push(clock.now());
      if (times.length < 4) wheel.schedule(500, tick);
    };
    wheel.schedule(500, tick);
    wheel.schedule(600, () => {
      throw new Error('boom');
    });
    clock.advance(5000);
    expect(times).toEqual([500, 1000, 1500, 2000]);
    expect(errors).toHaveLength(1);
  });

  it('clear() cancels everything', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ clock });
    let n = 0;
    for (let i = 0; i < 100; i++) wheel.schedule(i * 10, () => n++);
    wheel.clear();
    clock.advance(10_000);
    expect(n).toBe(0);
  });

  it('runs on the real clock', async () => {
    const wheel = new TimerWheel();
    const done = await new Promise<boolean>((resolve) => {
      wheel.schedule(5, () => resolve(true));
    });
    expect(done).toBe(true);
  });
});

describe('TimerWheel housekeeping', () => {
  it('compacts cancelled entries instead of keeping them until they fall due', () => {
    const clock = new ManualClock();
    const wheel = new TimerWheel({ clock });
    const keep = wheel.schedule(100_000, () => {});
    for (let i = 0; i < 5000; i++) wheel.cancel(wheel.schedule(64_000, () => {}));
    expect(wheel.size).toBe(1);
    expect(wheel.heapSize).toBeLessThan(1100);
    wheel.cancel(keep);
    expect(wheel.heapSize).toBe(0);
  });

  it('works under vitest fake timers with the default clock', async () => {
    const { vi } = await import('vitest');
    vi.useFakeTimers();
    try {
      const wheel = new TimerWheel();
      let n = 0;
      wheel.schedule(1000, () => n++);
      vi.advanceTimersByTime(990);
      expect(n).toBe(0);
      vi.advanceTimersByTime(10);
      expect(n).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('lets go of a cancelled callback at once, not when its entry surfaces', async () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new ManualClock();
    const wheel = new TimerWheel({ clock });
    // A live timer keeps the heap (and the cancelled entry in it) from being dropped wholesale.
    wheel.schedule(120_000, () => {});
    let ref: WeakRef<object> | undefined;
    (() => {
      const transaction = { request: new Array(10_000).fill('x') };
      ref = new WeakRef(transaction);
      const handle = wheel.schedule(64_000, () => void transaction.request.length);
      wheel.cancel(handle);
    })();
    expect(wheel.heapSize).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(ref!.deref()).toBeUndefined();
  });
});

