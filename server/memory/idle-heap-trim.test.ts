import { describe, expect, it } from 'vitest';
import { startIdleHeapTrim, type IdleHeapTrimDeps } from './index.ts';

const MiB = 1024 * 1024;

/** A heap whose size and busy share the test sets; collect() drops the heap to `liveAfter`. */
function fakeProcess(start: number) {
  const state = { heap: start, young: 0, youngAfter: 0, busy: 0, liveAfter: start, collections: 0, tick: undefined as (() => void) | undefined, stopped: false };
  const deps: IdleHeapTrimDeps = {
    heapBytes: () => state.heap,
    youngBytes: () => state.young,
    busyShare: () => state.busy,
    collect() {
      state.collections++;
      state.heap = state.liveAfter;
      state.young = state.youngAfter;
    },
    setInterval(fn) {
      state.tick = fn;
      return {};
    },
    clearInterval() {
      state.stopped = true;
    },
  };
  return { state, deps, tick: () => state.tick!() };
}

describe('startIdleHeapTrim', () => {
  it('trims start-up garbage at the first idle interval, again while that still gives back more than the slack, then stops', () => {
    const p = fakeProcess(110 * MiB);
    const trims: number[] = [];
    startIdleHeapTrim({ slackBytes: 8 * MiB, onTrim: (r) => trims.push(r.afterBytes / MiB) }, p.deps);
    p.state.liveAfter = 75 * MiB;
    p.tick();
    expect(p.state.collections).toBe(1);
    // The young generation shrinks at the second trim.
    p.state.liveAfter = 45 * MiB;
    p.tick();
    expect(p.state.collections).toBe(2);
    p.tick();
    expect(p.state.collections).toBe(3);
    // That one gave nothing back: idle from here on costs no collection.
    for (let i = 0; i < 10; i++) p.tick();
    expect(p.state.collections).toBe(3);
    expect(trims).toEqual([75, 45, 45]);
  });

  it('never trims a busy interval, and trims once the load is gone and the heap grew by more than the slack', () => {
    const p = fakeProcess(50 * MiB);
    const trim = startIdleHeapTrim({ slackBytes: 8 * MiB, idleBelow: 0.02 }, p.deps);
    p.state.liveAfter = 50 * MiB;
    p.tick();
    p.tick();
    expect(trim.trims).toBe(1);
    p.state.busy = 0.4;
    p.state.heap = 120 * MiB;
    for (let i = 0; i < 5; i++) p.tick();
    expect(trim.trims).toBe(1);
    p.state.busy = 0.01;
    p.state.liveAfter = 52 * MiB;
    p.tick();
    expect(trim.trims).toBe(2);
    expect(p.state.heap).toBe(52 * MiB);
    p.tick();
    p.tick();
    expect(trim.trims).toBe(3);
    // Growth within the slack is left to V8.
    p.state.heap = 58 * MiB;
    p.tick();
    expect(trim.trims).toBe(3);
    p.state.heap = 61 * MiB;
    p.tick();
    expect(trim.trims).toBe(4);
    trim.stop();
    expect(p.state.stopped).toBe(true);
  });

  it('stops for good, reporting once, when the runtime refuses a collection (no gc()), and never throws', () => {
    const p = fakeProcess(100 * MiB);
    p.deps.collect = () => {
      throw new ReferenceError('gc is not defined');
    };
    const errors: unknown[] = [];
    startIdleHeapTrim({ onError: (err) => errors.push(err) }, p.deps);
    expect(() => p.tick()).not.toThrow();
    expect(p.state.stopped).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('keeps trimming while the young generation stays grown, a few times at most', () => {
    const p = fakeProcess(110 * MiB);
    const trim = startIdleHeapTrim({ slackBytes: 8 * MiB, maxTrimsPerBurst: 4 }, p.deps);
    p.state.young = p.state.youngAfter = 32 * MiB;
    p.state.liveAfter = 75 * MiB;
    p.tick();
    p.tick();
    expect(trim.trims).toBe(2);
    // Third trim: V8 saw the low allocation rate and shrank it; the fourth finds nothing more.
    p.state.youngAfter = 1 * MiB;
    p.state.liveAfter = 45 * MiB;
    p.tick();
    p.tick();
    p.tick();
    p.tick();
    expect(trim.trims).toBe(4);

    // Light traffic regrowing only the young generation brings on no new full collection.
    p.state.heap = 45 * MiB + 31 * MiB;
    p.state.young = 32 * MiB;
    for (let i = 0; i < 5; i++) p.tick();
    expect(trim.trims).toBe(4);

    // A young generation that never shrinks costs a bounded number of trims, not one per interval.
    p.state.heap = 100 * MiB;
    p.state.young = p.state.youngAfter = 32 * MiB;
    p.state.liveAfter = 100 * MiB;
    for (let i = 0; i < 20; i++) p.tick();
    expect(trim.trims).toBe(8);
  });

  it('the real process: a trim gives back the pages a dropped burst of objects left behind', () => {
    let tick: (() => void) | undefined;
    const reports: { beforeBytes: number; afterBytes: number }[] = [];
    // Only the timer is the test's; heap size, busy share and gc are the process's own.
    const trim = startIdleHeapTrim({ slackBytes: 0, idleBelow: 1.01, onTrim: (r) => reports.push(r) }, {
      setInterval: (fn) => ((tick = fn), {}),
      clearInterval: () => {},
    });
    let burst: { i: number; s: string }[] | undefined = [];
    for (let i = 0; i < 400_000; i++) burst.push({ i, s: `x${i}` });
    const kept = burst.filter((_, i) => i % 50 === 0);
    burst = undefined;
    tick!();
    trim.stop();
    expect(kept).toHaveLength(8_000);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.beforeBytes - reports[0]!.afterBytes).toBeGreaterThan(10 * 1024 * 1024);
  });
});
