/**
 * How the worker calls into a tenant's isolate: synchronously on its own thread, or through
 * isolated-vm's thread pool.
 *
 * A warm run is a few short segments (the dialplan up to its first `await`, then one per answered
 * sys call), each tens of microseconds. Made with `apply`, each segment is a task handed to an
 * isolate thread and a result posted back: two thread wake-ups, a promise and a captured stack
 * trace per segment, and on the one-Dial bench ~30 % of the worker's CPU per run. Made with
 * `applySync` (and isolated-vm's `timeout`, the rest of the run's CPU budget, so a loop is still
 * cut at the limit) it costs neither.
 *
 * The price of a synchronous segment is that it holds the worker's thread: every other run waits
 * until it returns. So a tenant is trusted with it only while its segments stay short; one that
 * takes longer than `longSegmentMs` of CPU sends that tenant's calls back to the thread pool for
 * `asyncForMs`, where a long segment costs the other tenants only a share of the CPU. A tenant
 * can so hold the worker's thread at most once per `asyncForMs`, for at most its CPU budget.
 */
export interface SegmentModeOptions {
  /** CPU of one synchronous segment above which its tenant goes back to the thread pool. Default 5 ms. */
  longSegmentMs: number;
  /** How long such a tenant stays there. Default 10 min. */
  asyncForMs: number;
  /** Tenants remembered as demoted at once; the oldest is forgotten first. Default 10,000. */
  maxDemoted: number;
}

export const DEFAULT_SEGMENT_MODE_OPTIONS: Readonly<SegmentModeOptions> = Object.freeze({
  longSegmentMs: 5,
  asyncForMs: 10 * 60_000,
  maxDemoted: 10_000,
});

export class SegmentModePolicy {
  private readonly options: SegmentModeOptions;
  /** Demoted tenants and until when, oldest demotion first. */
  private readonly demotedUntil = new Map<string, number>();

  constructor(
    options: Partial<SegmentModeOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_SEGMENT_MODE_OPTIONS, ...options };
  }

  /** True when the tenant's next segment may run on the worker's own thread. */
  syncFor(tenantId: string): boolean {
    if (this.demotedUntil.size === 0) return true;
    const until = this.demotedUntil.get(tenantId);
    if (until === undefined) return true;
    if (this.now() < until) return false;
    this.demotedUntil.delete(tenantId);
    return true;
  }

  /** What a synchronous segment of the tenant cost (ms of isolate CPU). */
  recordSync(tenantId: string, cpuMs: number): void {
    if (!(cpuMs > this.options.longSegmentMs)) return;
    this.demotedUntil.delete(tenantId);
    this.demotedUntil.set(tenantId, this.now() + this.options.asyncForMs);
    while (this.demotedUntil.size > this.options.maxDemoted) {
      const oldest = this.demotedUntil.keys().next().value;
      if (oldest === undefined) break;
      this.demotedUntil.delete(oldest);
    }
  }

  /** Tenants now sent to the thread pool. */
  get demoted(): number {
    return this.demotedUntil.size;
  }
}
