/**
 * How the worker calls into a tenant's isolate: synchronously on its own thread, or through
 * isolated-vm's thread pool.
 *
 * A warm run is a few short segments (the dialplan up to its first `await`, then one per answered
 * sys call), each tens of microseconds. Made with `apply`, each segment is a task handed to an
 * isolate thread and a result posted back: two thread wake-ups, a promise and a captured stack
 * trace per segment, ~30 % of the worker's CPU per run on the one-Dial bench. Made with
 * `applySync` (and isolated-vm's `timeout`, the rest of the run's CPU budget, so a loop is still
 * cut at the limit) it costs neither.
 *
 * The price of a synchronous segment is that it holds the worker's thread: every other run waits
 * until it returns. So a tenant is trusted with it only while its segments stay short. A segment
 * over `demoteAtMs` of CPU, or `strikes` segments over `strikeAtMs` within `strikeWindowMs`, send
 * that tenant's calls to the thread pool, where a long segment costs the other tenants only a
 * share of the CPU, for `asyncForMs`, doubled on each repeat up to `maxAsyncForMs`. (Measured on
 * the shared 2-core machine at a load average of 6: a warm one-Dial segment showed 10–33 ms of
 * "CPU" about once per 3,000 runs, a GC or the hypervisor's steal booked as thread time, so one
 * such segment alone must not cost a tenant its fast path.) A tenant can so hold the worker's
 * thread, for at most its CPU budget, about once an hour.
 */
export interface SegmentModeOptions {
  /** CPU of one synchronous segment above which its tenant goes to the thread pool at once. Default 50 ms. */
  demoteAtMs: number;
  /** CPU of a segment that counts as a strike. Default 10 ms. */
  strikeAtMs: number;
  /** Strikes within strikeWindowMs that demote. Default 3. */
  strikes: number;
  strikeWindowMs: number;
  /** How long a demoted tenant stays in the pool the first time. Default 1 min. */
  asyncForMs: number;
  /** Longest stay, however often it happens again. Default 1 h. */
  maxAsyncForMs: number;
  /** Tenants remembered at once; the least recently struck is forgotten first. Default 10,000. */
  maxRemembered: number;
}

export const DEFAULT_SEGMENT_MODE_OPTIONS: Readonly<SegmentModeOptions> = Object.freeze({
  demoteAtMs: 50,
  strikeAtMs: 10,
  strikes: 3,
  strikeWindowMs: 60_000,
  asyncForMs: 60_000,
  maxAsyncForMs: 3_600_000,
  maxRemembered: 10_000,
});

interface TenantRecord {
  /** Until when its calls go to the thread pool (0: they do not). */
  until: number;
  /** Demotions so far: the next lasts twice as long. */
  demotions: number;
  /** When its recent strikes happened, oldest first. */
  strikeTimes: number[];
}

export class SegmentModePolicy {
  private readonly options: SegmentModeOptions;
  /** Tenants with a strike or a demotion, least recently struck first. */
  private readonly records = new Map<string, TenantRecord>();

  constructor(
    options: Partial<SegmentModeOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_SEGMENT_MODE_OPTIONS, ...options };
  }

  /** True when the tenant's next segment may run on the worker's own thread. */
  syncFor(tenantId: string): boolean {
    if (this.records.size === 0) return true;
    const record = this.records.get(tenantId);
    return record === undefined || this.now() >= record.until;
  }

  /** What a synchronous segment of the tenant cost (ms of isolate CPU). */
  recordSync(tenantId: string, cpuMs: number): void {
    if (!(cpuMs > this.options.strikeAtMs)) return;
    const now = this.now();
    const record = this.records.get(tenantId) ?? { until: 0, demotions: 0, strikeTimes: [] };
    this.records.delete(tenantId);
    this.records.set(tenantId, record);
    record.strikeTimes = record.strikeTimes.filter((at) => now - at < this.options.strikeWindowMs);
    record.strikeTimes.push(now);
    if (cpuMs > this.options.demoteAtMs || record.strikeTimes.length >= this.options.strikes) {
      record.demotions++;
      record.strikeTimes = [];
      record.until = now + Math.min(this.options.maxAsyncForMs, this.options.asyncForMs * 2 ** Math.min(record.demotions - 1, 30));
    }
    while (this.records.size > this.options.maxRemembered) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }

  /** Tenants whose segments go to the thread pool now. */
  get demoted(): number {
    const now = this.now();
    let count = 0;
    for (const record of this.records.values()) if (now < record.until) count++;
    return count;
  }
}
