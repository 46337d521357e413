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
 * over `longSegmentMs` of CPU (measured: warm segments take well under 1 ms, a GC inside one up to
 * ~4 ms) sends that tenant's calls to the thread pool, where a long segment costs the other
 * tenants only a share of the CPU, for `asyncForMs`, doubled on each repeat up to `maxAsyncForMs`.
 * A tenant can so hold the worker's thread, for at most its CPU budget, about once an hour.
 */
export interface SegmentModeOptions {
  /** CPU of one synchronous segment above which its tenant goes to the thread pool. Default 10 ms. */
  longSegmentMs: number;
  /** How long it stays there the first time. Default 1 min. */
  asyncForMs: number;
  /** Longest stay, however often it happens again. Default 1 h. */
  maxAsyncForMs: number;
  /** Tenants remembered at once; the least recently demoted is forgotten first. Default 10,000. */
  maxDemoted: number;
}

export const DEFAULT_SEGMENT_MODE_OPTIONS: Readonly<SegmentModeOptions> = Object.freeze({
  longSegmentMs: 10,
  asyncForMs: 60_000,
  maxAsyncForMs: 3_600_000,
  maxDemoted: 10_000,
});

interface Demotion {
  until: number;
  /** Demotions so far: the next lasts twice as long. */
  count: number;
}

export class SegmentModePolicy {
  private readonly options: SegmentModeOptions;
  /** Tenants demoted at some time, least recently demoted first. */
  private readonly demotions = new Map<string, Demotion>();

  constructor(
    options: Partial<SegmentModeOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_SEGMENT_MODE_OPTIONS, ...options };
  }

  /** True when the tenant's next segment may run on the worker's own thread. */
  syncFor(tenantId: string): boolean {
    if (this.demotions.size === 0) return true;
    const demotion = this.demotions.get(tenantId);
    return demotion === undefined || this.now() >= demotion.until;
  }

  /** What a synchronous segment of the tenant cost (ms of isolate CPU). */
  recordSync(tenantId: string, cpuMs: number): void {
    if (!(cpuMs > this.options.longSegmentMs)) return;
    const count = (this.demotions.get(tenantId)?.count ?? 0) + 1;
    const forMs = Math.min(this.options.maxAsyncForMs, this.options.asyncForMs * 2 ** Math.min(count - 1, 30));
    this.demotions.delete(tenantId);
    this.demotions.set(tenantId, { until: this.now() + forMs, count });
    while (this.demotions.size > this.options.maxDemoted) {
      const oldest = this.demotions.keys().next().value;
      if (oldest === undefined) break;
      this.demotions.delete(oldest);
    }
  }

  /** Tenants whose segments go to the thread pool now. */
  get demoted(): number {
    const now = this.now();
    let count = 0;
    for (const demotion of this.demotions.values()) if (now < demotion.until) count++;
    return count;
  }
}
