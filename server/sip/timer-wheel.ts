/**
 * One shared timer for the whole SIP stack (DESIGN "Performance habits"): every transaction timer
 * (RFC 3261 §17 Timers A–K) is an entry in a min-heap, and a single host timer is armed for the
 * earliest due entry. Thousands of live transactions therefore cost one host timer, not thousands.
 */

/** The time source and the single host timer; injectable so tests drive time by hand. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The wheel must never keep the process alive on its own.
    t.unref();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A clock that only moves when a test calls `advance()`; fires due host timers in time order. */
export class ManualClock implements Clock {
  private current = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { due: number; fn: () => void }>();

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { due: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every host timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let nextId = -1;
      let nextDue = Infinity;
      for (const [id, p] of this.pending) {
        if (p.due < nextDue) {
          nextDue = p.due;
          nextId = id;
        }
      }
      if (nextId < 0 || nextDue > target) break;
      const entry = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.current = Math.max(this.current, entry.due);
      entry.fn();
    }
    this.current = target;
  }
}

const NOOP = (): void => {};

export interface TimerHandle {
  readonly due: number;
  readonly cancelled: boolean;
}

interface TimerEntry extends TimerHandle {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export interface TimerWheelOptions {
  clock?: Clock;
  /** Timers due within this many ms of each other fire in one host-timer callback. */
  resolutionMs?: number;
  /** Called when a timer callback throws; the wheel itself keeps going. */
  onError?: (err: unknown) => void;
}

export class TimerWheel {
  readonly clock: Clock;
  private readonly resolutionMs: number;
  private readonly onError: (err: unknown) => void;
  private heap: TimerEntry[] = [];
  private seq = 0;
  private armedHandle: unknown = undefined;
  private armedDue = Infinity;
  private live = 0;

  constructor(opts: TimerWheelOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.resolutionMs = opts.resolutionMs ?? 5;
    this.onError = opts.onError ?? (() => {});
  }

  /** Number of scheduled, not yet fired or cancelled timers. */
  get size(): number {
    return this.live;
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const entry: TimerEntry = { due: this.clock.now() + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(entry);
    this.live++;
    if (entry.due < this.armedDue) this.arm();
    return entry;
  }

  /**
   * Cancelling is O(1): the entry is marked and skipped when it reaches the top of the heap. Its
   * callback is dropped at once: a cancelled 64 s timer would otherwise keep its transaction, the
   * parsed request and its bytes alive until it surfaced (measured: ~1,200 settled non-INVITE
   * transactions still held 40 s after a 5 s step of 400 calls/s).
   */
  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const entry = handle as TimerEntry;
    if (entry.cancelled) return;
    entry.cancelled = true;
    entry.fn = NOOP;
    this.live--;
    if (this.live === 0) {
      this.heap = [];
      this.disarm();
    } else if (this.heap.length > 1024 && this.heap.length > 3 * this.live) {
      this.compact();
    }
  }

  /** Drops cancelled entries (long timers like B/F/J cancelled early would otherwise pile up). */
  private compact(): void {
    const keep = this.heap.filter((e) => !e.cancelled);
    this.heap = [];
    for (const e of keep) this.push(e);
  }

  /** Entries held, cancelled ones included (tests, diagnostics). */
  get heapSize(): number {
    return this.heap.length;
  }

  /** Cancels everything (stack shutdown). */
  clear(): void {
    for (const e of this.heap) {
      e.cancelled = true;
      e.fn = NOOP;
    }
    this.heap = [];
    this.live = 0;
    this.disarm();
  }

  private arm(): void {
    this.disarm();
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    const top = this.heap[0];
    if (!top) return;
    this.armedDue = top.due;
    this.armedHandle = this.clock.setTimer(() => this.fire(), Math.max(0, top.due - this.clock.now()));
  }

  private disarm(): void {
    if (this.armedHandle !== undefined) this.clock.clearTimer(this.armedHandle);
    this.armedHandle = undefined;
    this.armedDue = Infinity;
  }

  private fire(): void {
    this.armedHandle = undefined;
    this.armedDue = Infinity;
    const limit = this.clock.now() + this.resolutionMs;
    // Bounded: only entries already due fire; ones scheduled by callbacks for "now" wait a turn.
    const batch: TimerEntry[] = [];
    while (this.heap.length > 0 && this.heap[0]!.due <= limit) {
      const e = this.pop()!;
      if (!e.cancelled) batch.push(e);
    }
    for (const e of batch) {
      if (e.cancelled) continue;
      e.cancelled = true;
      this.live--;
      // The handle may stay with its owner (a transaction's timer table); the closure need not.
      const fn = e.fn;
      e.fn = NOOP;
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    }
    if (this.armedHandle === undefined) this.arm();
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: TimerEntry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): TimerEntry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
