/** What the pool needs to know of an isolate (isolated-vm's Isolate, or a fake in tests). */
export interface PoolableIsolate {
  readonly isDisposed: boolean;
  /** Total CPU the isolate has used, in nanoseconds. */
  readonly cpuTime: bigint;
  dispose(): void;
}

export interface IsolatePoolOptions {
  /** Executions one isolate serves before it is disposed. 1 = a fresh isolate per execution. Default 100. */
  maxUsesPerIsolate: number;
  /** Idle isolates kept per tenant (and memory limit). Default 5. */
  maxIdlePerTenant: number;
  /** Idle isolates kept in all; the least recently used goes first. Default 32. */
  maxIdle: number;
  /**
   * How long idle isolates beyond `maxIdle` (up to twice as many) may stay before they go. Under a
   * steady load with more runs in flight than `maxIdle` (calls waiting in Dial hold an isolate
   * each), the load's ups and downs otherwise disposed isolates on release that the next up made
   * again: at 1,000 runs/s over 4 tenants, ~55 isolates a second made and disposed (~8 ms of
   * worker CPU each), twice the CPU of the runs themselves. They all existed at once anyway, so
   * keeping them a moment longer adds no peak memory. 0 = dispose at once. Default 2 s.
   */
  overCapGraceMs: number;
  /** An isolate idle this long is disposed. Default 30 s. */
  idleMs: number;
  /** How often idle isolates are checked (expiry, CPU used while idle). Default 250 ms. */
  sweepIntervalMs: number;
  /**
   * Isolates made ahead, in the background, for the next execution that finds no idle isolate of
   * its tenant (a new tenant, one more concurrent call, or after an isolate retired). A spare has
   * never run user code, so it belongs to no tenant until it is lent. Kept per memory limit, for
   * the two limits asked for last. 0 = make every isolate on demand. Default 1.
   */
  spares: number;
  /**
   * Isolates made on demand at once. An execution that finds no idle isolate and no spare waits
   * for whichever comes first: an isolate of its tenant given back by a run that ended, or one of
   * these creations. `new Isolate` runs on the worker's thread (~1–5 ms with the hardening), so a
   * burst that made one isolate per waiting run stalled every run in flight for 100–400 ms and
   * filled admission control's queue with 503s (bench profile of the worker). Default 2.
   */
  maxCreating: number;
}

export const DEFAULT_ISOLATE_POOL_OPTIONS: Readonly<IsolatePoolOptions> = Object.freeze({
  // One hardened context serves all uses, so a use costs no context; the limit only bounds what
  // V8 keeps per isolate (code caches, feedback) over its life.
  maxUsesPerIsolate: 1000,
  maxIdlePerTenant: 5,
  maxIdle: 32,
  overCapGraceMs: 2_000,
  idleMs: 30_000,
  sweepIntervalMs: 250,
  spares: 1,
  maxCreating: 2,
});

/** Memory limits for which spares are kept. */
const MAX_SPARE_KINDS = 2;

/**
 * isolated-vm books an isolate's CPU time a moment after the call into it has returned, so an
 * isolate that just came back may still show more: measured 0.25–1.5 ms on this 2-core machine at
 * a load average of 7 (the isolate's thread is preempted before it books). Below this, a warm
 * isolate would be thrown away (and made again, ~5 ms) exactly when the machine is busiest. Code
 * really running while idle passes this within one sweep.
 */
const IDLE_CPU_TOLERANCE_NS = 5_000_000n;

/** One isolate lent to one execution at a time. */
export interface IsolateLease<T extends PoolableIsolate> {
  readonly isolate: T;
  readonly tenantId: string;
  readonly memoryMiB: number;
  /** Executions this isolate has started, this one included. */
  readonly uses: number;
}

interface PoolEntry<T extends PoolableIsolate> {
  isolate: T;
  tenantId: string;
  memoryMiB: number;
  uses: number;
  /** Set while idle: when it came back and its CPU total at that moment. */
  idleSince: number;
  cpuAtRelease: bigint;
  lent: boolean;
}

export type CreateIsolate<T extends PoolableIsolate> = (memoryMiB: number) => Promise<T>;

/** An execution waiting for an isolate (none idle, no spare, creations at their bound). */
interface Waiter<T extends PoolableIsolate> {
  tenantId: string;
  memoryMiB: number;
  resolve(lease: IsolateLease<T>): void;
  reject(error: unknown): void;
}

/**
 * Warm isolates kept per tenant so a call does not pay for a new isolate. An isolate only ever
 * serves the tenant (and memory limit) it was created for, and only one execution at a time;
 * the execution gives it back only after a clean run with nothing of its own left running.
 * An isolate that used CPU while idle (code the last execution left behind, e.g. a finalizer)
 * is disposed, never lent again; the next execution measures its CPU from the moment it got it.
 */
export class IsolatePool<T extends PoolableIsolate> {
  private readonly options: IsolatePoolOptions;
  /** Idle isolates by pool key, oldest first. */
  private readonly idle = new Map<string, PoolEntry<T>[]>();
  private readonly leases = new WeakMap<IsolateLease<T>, PoolEntry<T>>();
  private idleCount = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Never-used isolates by memory limit (most recently asked-for limit last) and how many are being made. */
  private readonly spareIsolates = new Map<number, T[]>();
  private readonly sparesInFlight = new Map<number, number>();
  private closed = false;
  /** Executions waiting for an isolate, oldest first, and the on-demand creations in flight. */
  private waiters: Waiter<T>[] = [];
  private creating = 0;

  constructor(
    private readonly create: CreateIsolate<T>,
    options: Partial<IsolatePoolOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_ISOLATE_POOL_OPTIONS, ...options };
  }

  /** An idle isolate of this tenant, else a new one. The caller must `release` it exactly once. */
  async acquire(tenantId: string, memoryMiB: number): Promise<IsolateLease<T>> {
    const list = this.idle.get(poolKey(tenantId, memoryMiB));
    while (list && list.length > 0) {
      const entry = list.pop() as PoolEntry<T>;
      this.idleCount--;
      if (list.length === 0) this.idle.delete(poolKey(tenantId, memoryMiB));
      if (this.usableAfterIdle(entry)) return this.lend(entry);
      disposeQuietly(entry.isolate);
    }
    const spare = this.takeSpare(memoryMiB);
    if (spare) {
      this.refillSpares(memoryMiB);
      return this.lend(freshEntry(spare, tenantId, memoryMiB));
    }
    if (this.closed) throw new Error('isolate pool closed');
    return new Promise<IsolateLease<T>>((resolve, reject) => {
      this.waiters.push({ tenantId, memoryMiB, resolve, reject });
      this.createForWaiters();
    });
  }

  /** Executions waiting for an isolate now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Starts creations for waiters not yet covered by one, up to `maxCreating` at once. */
  private createForWaiters(): void {
    while (!this.closed && this.creating < Math.max(1, this.options.maxCreating) && this.creating < this.waiters.length) {
      this.creating++;
      const memoryMiB = this.waiters[this.creating - 1]!.memoryMiB;
      this.create(memoryMiB).then(
        (isolate) => {
          this.creating--;
          const index = this.waiters.findIndex((w) => w.memoryMiB === memoryMiB);
          if (index < 0 || this.closed) {
            // Its waiter was served by a run that gave an isolate back: keep it as a spare.
            const spares = this.spareIsolates.get(memoryMiB);
            if (!this.closed && spares && spares.length < this.options.spares) spares.push(isolate);
            else if (!this.closed && !spares && this.options.spares > 0 && this.spareIsolates.size < MAX_SPARE_KINDS) this.spareIsolates.set(memoryMiB, [isolate]);
            else disposeQuietly(isolate);
          } else {
            const [waiter] = this.waiters.splice(index, 1);
            waiter!.resolve(this.lend(freshEntry(isolate, waiter!.tenantId, memoryMiB)));
            this.refillSpares(memoryMiB);
          }
          this.createForWaiters();
        },
        (error: unknown) => {
          this.creating--;
          // The failure is reported to the execution that was waiting longest for this limit.
          const index = this.waiters.findIndex((w) => w.memoryMiB === memoryMiB);
          if (index >= 0) this.waiters.splice(index, 1)[0]!.reject(error);
          this.createForWaiters();
        },
      );
    }
  }

  /** Hands a reusable isolate straight to the oldest execution of its tenant and limit that waits. */
  private handToWaiter(entry: PoolEntry<T>): boolean {
    const index = this.waiters.findIndex((w) => w.tenantId === entry.tenantId && w.memoryMiB === entry.memoryMiB);
    if (index < 0) return false;
    const [waiter] = this.waiters.splice(index, 1);
    waiter!.resolve(this.lend(entry));
    return true;
  }

  /** Spare isolates ready now (all memory limits). */
  get spareCount(): number {
    let count = 0;
    for (const list of this.spareIsolates.values()) count += list.length;
    return count;
  }

  private takeSpare(memoryMiB: number): T | undefined {
    const list = this.spareIsolates.get(memoryMiB);
    while (list && list.length > 0) {
      const isolate = list.shift() as T;
      if (!isolate.isDisposed) return isolate;
    }
    return undefined;
  }

  /** Makes spares of this memory limit in the background, off the path of the execution that asked. */
  private refillSpares(memoryMiB: number): void {
    if (this.closed || this.options.spares <= 0) return;
    const list = this.spareIsolates.get(memoryMiB) ?? [];
    // Most recently asked-for limit last; the oldest kind beyond the bound loses its spares.
    this.spareIsolates.delete(memoryMiB);
    this.spareIsolates.set(memoryMiB, list);
    while (this.spareIsolates.size > MAX_SPARE_KINDS) {
      const [oldest, dropped] = this.spareIsolates.entries().next().value as [number, T[]];
      this.spareIsolates.delete(oldest);
      for (const isolate of dropped) disposeQuietly(isolate);
    }
    const missing = this.options.spares - list.length - (this.sparesInFlight.get(memoryMiB) ?? 0);
    for (let i = 0; i < missing; i++) {
      this.sparesInFlight.set(memoryMiB, (this.sparesInFlight.get(memoryMiB) ?? 0) + 1);
      setImmediate(() => {
        this.create(memoryMiB)
          .then((isolate) => {
            const target = this.spareIsolates.get(memoryMiB);
            if (this.closed || !target || target.length >= this.options.spares) disposeQuietly(isolate);
            else target.push(isolate);
          })
          // A spare that cannot be made is made on demand later, where the failure is reported.
          .catch(() => undefined)
          .finally(() => {
            const left = (this.sparesInFlight.get(memoryMiB) ?? 1) - 1;
            if (left > 0) this.sparesInFlight.set(memoryMiB, left);
            else this.sparesInFlight.delete(memoryMiB);
          });
      });
    }
  }

  /**
   * Gives an isolate back. `reusable` only after an execution that completed cleanly and has no
   * call into the isolate in flight; otherwise (a limit fired, a throw, anything unclear) the
   * isolate is disposed.
   */
  release(lease: IsolateLease<T>, reusable: boolean): void {
    const entry = this.leases.get(lease);
    if (!entry || !entry.lent) return;
    entry.lent = false;
    this.leases.delete(lease);
    const { isolate } = entry;
    if (!reusable || isolate.isDisposed || entry.uses >= this.options.maxUsesPerIsolate) {
      disposeQuietly(isolate);
      return;
    }
    if (this.handToWaiter(entry)) return;
    const key = poolKey(entry.tenantId, entry.memoryMiB);
    const list = this.idle.get(key) ?? [];
    if (list.length >= this.options.maxIdlePerTenant) {
      disposeQuietly(isolate);
      return;
    }
    if (this.idleCount >= this.options.maxIdle && !this.withinOverCapGrace(this.idleCount + 1) && !this.evictOldest()) {
      disposeQuietly(isolate);
      return;
    }
    entry.idleSince = this.now();
    entry.cpuAtRelease = isolate.cpuTime;
    list.push(entry);
    this.idle.set(key, list);
    this.idleCount++;
    this.armSweep();
  }

  /** Idle isolates (all tenants). */
  get idleIsolates(): number {
    return this.idleCount;
  }

  /** Idle isolates of one tenant. */
  idleFor(tenantId: string): number {
    let count = 0;
    for (const [key, list] of this.idle) if (key.startsWith(`${tenantId}\u0000`)) count += list.length;
    return count;
  }

  /** Disposes every idle and spare isolate (lent ones are disposed when released). */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('isolate pool closed'));
    for (const list of this.idle.values()) for (const entry of list) disposeQuietly(entry.isolate);
    for (const list of this.spareIsolates.values()) for (const isolate of list) disposeQuietly(isolate);
    this.spareIsolates.clear();
    this.idle.clear();
    this.idleCount = 0;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Disposes idle isolates that expired or ran code while nobody was using them. */
  sweep(): void {
    const now = this.now();
    for (const [key, list] of this.idle) {
      const keep = list.filter((entry) => {
        if (now - entry.idleSince < this.options.idleMs && this.usableAfterIdle(entry)) return true;
        disposeQuietly(entry.isolate);
        return false;
      });
      this.idleCount -= list.length - keep.length;
      if (keep.length > 0) this.idle.set(key, keep);
      else this.idle.delete(key);
    }
    while (this.idleCount > this.options.maxIdle && !this.withinOverCapGrace(this.idleCount) && this.evictOldest());
    if (this.idleCount === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  /** `idle` isolates may be idle beyond maxIdle: at most twice that, and the oldest was in use a moment ago. */
  private withinOverCapGrace(idle: number): boolean {
    if (idle > 2 * this.options.maxIdle) return false;
    const oldest = this.oldestIdle();
    return oldest !== undefined && this.now() - oldest.entry.idleSince < this.options.overCapGraceMs;
  }

  private oldestIdle(): { key: string; entry: PoolEntry<T> } | undefined {
    let found: { key: string; entry: PoolEntry<T> } | undefined;
    for (const [key, list] of this.idle) {
      const first = list[0];
      if (first && (!found || first.idleSince < found.entry.idleSince)) found = { key, entry: first };
    }
    return found;
  }

  private lend(entry: PoolEntry<T>): IsolateLease<T> {
    entry.uses++;
    entry.lent = true;
    const lease: IsolateLease<T> = { isolate: entry.isolate, tenantId: entry.tenantId, memoryMiB: entry.memoryMiB, uses: entry.uses };
    this.leases.set(lease, entry);
    return lease;
  }

  private usableAfterIdle(entry: PoolEntry<T>): boolean {
    return !entry.isolate.isDisposed && entry.isolate.cpuTime - entry.cpuAtRelease <= IDLE_CPU_TOLERANCE_NS;
  }

  private evictOldest(): boolean {
    const found = this.oldestIdle();
    if (!found) return false;
    const { key: oldestKey, entry: oldest } = found;
    const list = this.idle.get(oldestKey) as PoolEntry<T>[];
    list.shift();
    if (list.length === 0) this.idle.delete(oldestKey);
    this.idleCount--;
    disposeQuietly(oldest.isolate);
    return true;
  }

  private armSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, this.options.sweepIntervalMs));
    this.sweepTimer.unref();
  }
}

function freshEntry<T extends PoolableIsolate>(isolate: T, tenantId: string, memoryMiB: number): PoolEntry<T> {
  return { isolate, tenantId, memoryMiB, uses: 0, idleSince: 0, cpuAtRelease: 0n, lent: false };
}

function poolKey(tenantId: string, memoryMiB: number): string {
  return `${tenantId}\u0000${memoryMiB}`;
}

function disposeQuietly(isolate: PoolableIsolate): void {
  if (isolate.isDisposed) return;
  try {
    isolate.dispose();
  } catch {
    // already being torn down by isolated-vm
  }
}
