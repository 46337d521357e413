import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** What the trimmer reads and does; the defaults are the real process (tests pass their own). */
export interface IdleHeapTrimDeps {
  /** Bytes of heap the process holds in memory (V8's total_physical_size). */
  heapBytes(): number;
  /** Of those, the young generation's (V8's new space). */
  youngBytes(): number;
  /** Share of the last interval the event loop was busy, 0…1. */
  busyShare(): number;
  /** One full, compacting garbage collection. */
  collect(): void;
  setInterval(fn: () => void, ms: number): { unref?(): unknown };
  clearInterval(handle: unknown): void;
}

export interface IdleHeapTrimOptions {
  /** How often the process is looked at (ms). */
  everyMs?: number;
  /** Busy share under which an interval counts as idle. */
  idleBelow?: number;
  /** Heap growth since the last trim that makes another one worth its pause (bytes). */
  slackBytes?: number;
  /** Trims after one burst at most, however much they still give back. */
  maxTrimsPerBurst?: number;
  onTrim?: (report: { beforeBytes: number; afterBytes: number; ms: number }) => void;
  /** A collection could not be made (a runtime that refuses the V8 flags): trimming stops for good, the switch goes on. */
  onError?: (err: unknown) => void;
}

export interface IdleHeapTrim {
  /** Trims counted so far. */
  readonly trims: number;
  stop(): void;
}

/**
 * Gives back to the system the heap a burst left behind (start-up reading every account, a load
 * peak) once the switch is idle. V8 alone often does not: its memory reducer decides from the
 * allocation rate measured at the last collections, and an idle process makes none, so the rate
 * of the burst stands and the garbage, the fragmented old-space pages and the grown young
 * generation stay resident indefinitely (idle PSS varied between 94 and 158 MiB run to run on
 * the same database). Only idle intervals are trimmed, so a busy switch keeps V8's own
 * incremental collections and never takes this atomic pause. After a burst a trim is repeated (a
 * few times at most) while it still gives back more than the slack or the young generation is
 * still grown; after that the next one waits until the heap grew by the slack again.
 */
export function startIdleHeapTrim(options: IdleHeapTrimOptions = {}, own: Partial<IdleHeapTrimDeps> = {}): IdleHeapTrim {
  const deps: IdleHeapTrimDeps = { ...processHeap(), ...own };
  const everyMs = options.everyMs ?? 3_000;
  const idleBelow = options.idleBelow ?? 0.05;
  const slack = options.slackBytes ?? 8 * 1024 * 1024;
  const maxTrims = options.maxTrimsPerBurst ?? 4;
  // Start-up itself is the first burst: the first idle interval trims.
  let pending = true;
  let inBurst = 0;
  // Growth is judged on old space: the young generation shrinks at a trim and light traffic
  // regrows it at once, which must not bring on another full collection.
  const oldBytes = (): number => deps.heapBytes() - deps.youngBytes();
  let floor = oldBytes();
  let trims = 0;
  const tick = (): void => {
    if (deps.busyShare() >= idleBelow) return;
    const before = deps.heapBytes();
    if (!pending && oldBytes() > floor + slack) {
      pending = true;
      inBurst = 0;
    }
    if (!pending) return;
    const started = performance.now();
    deps.collect();
    const after = deps.heapBytes();
    trims++;
    inBurst++;
    floor = oldBytes();
    // V8 shrinks the young generation only once the allocation rate of its last several seconds
    // is low, so the burst's own rate can keep it grown for the first trim or two.
    pending = inBurst < maxTrims && (before - after > slack || deps.youngBytes() > slack);
    options.onTrim?.({ beforeBytes: before, afterBytes: after, ms: performance.now() - started });
  };
  const handle = deps.setInterval(() => {
    // Nothing the trimmer does may throw out of a timer: a failure turns it off, the switch goes on.
    try {
      tick();
    } catch (err) {
      deps.clearInterval(handle);
      options.onError?.(err);
    }
  }, everyMs);
  handle.unref?.();
  return {
    get trims() {
      return trims;
    },
    stop: () => deps.clearInterval(handle),
  };
}

function processHeap(): IdleHeapTrimDeps {
  let gc: (() => void) | undefined;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    heapBytes: () => getHeapStatistics().total_physical_size,
    youngBytes: () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0,
    busyShare() {
      const now = performance.eventLoopUtilization();
      const share = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return share;
    },
    collect() {
      gc ??= exposedGc();
      // An ordinary full collection moves at most a few MiB of live objects out of fragmented
      // pages, so after a burst most of old space stays committed (measured: 41 MiB live in 120
      // MiB of pages, unchanged by two collections). Compacting every page gives them back.
      setFlagsFromString('--compact-on-every-full-gc');
      try {
        gc();
      } finally {
        setFlagsFromString('--no-compact-on-every-full-gc');
      }
      // The pause is the trimmer's own work, not the switch's: the next interval starts after it.
      last = performance.eventLoopUtilization();
    },
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  };
}

/**
 * V8's gc() without starting node with --expose-gc: the flag is read when a context is made, so
 * one new context gets the function and the flag is put back at once (no other context sees it).
 */
function exposedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
