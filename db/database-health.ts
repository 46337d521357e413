import { isDatabaseUnavailable } from './errors.ts';

/** What the health check shows about the database. */
export interface DatabaseHealthState {
  reachable: boolean;
  /** Epoch ms the database became unreachable (while it is). */
  downSince?: number;
  /** The last error that made it unreachable. */
  lastError?: string;
}

export interface DatabaseHealthOptions {
  /** A cheap round trip (Database.ping). */
  probe: () => Promise<void>;
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** First retry after a failure; doubled per failed probe up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
}

/**
 * Whether the database answers, learnt from the reads and writes the switch does anyway. While
 * it is down, caches serve what they hold without waiting on it, and a probe with exponential
 * backoff finds out when it is back (then the listeners — the write journal — run).
 */
export class DatabaseHealth {
  private down: { since: number; error: string } | undefined;
  private backoffMs: number;
  private nextTryAt = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DatabaseHealthOptions) {
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.backoffMs = this.minBackoffMs;
    this.now = options.now ?? Date.now;
  }

  get reachable(): boolean {
    return this.down === undefined;
  }

  state(): DatabaseHealthState {
    return this.down ? { reachable: false, downSince: this.down.since, lastError: this.down.error } : { reachable: true };
  }

  /**
   * Whether a caller should wait on the database now: always while it is reachable; while it is
   * down only once the backoff has passed (a refresh in the background may try).
   */
  canTry(): boolean {
    return this.down === undefined || this.now() >= this.nextTryAt;
  }

  /** Counts a failed read or write; only errors that mean "unreachable" mark the database down. */
  reportFailure(err: unknown): void {
    if (!isDatabaseUnavailable(err)) return;
    const message = err instanceof Error ? err.message : String(err);
    if (!this.down) {
      this.down = { since: this.now(), error: message };
      this.backoffMs = this.minBackoffMs;
      this.options.logger?.warn({ err: message }, 'database unreachable: serving from memory, journaling writes');
    } else {
      this.down.error = message;
    }
    this.nextTryAt = this.now() + this.backoffMs;
    this.scheduleProbe();
  }

  /** Counts a successful round trip; the first after an outage tells the listeners. */
  reportSuccess(): void {
    if (!this.down) return;
    const downForMs = this.now() - this.down.since;
    this.down = undefined;
    this.backoffMs = this.minBackoffMs;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.options.logger?.info({ downForMs }, 'database reachable again');
    for (const fn of this.listeners) fn();
  }

  /** Runs `fn` each time the database comes back; returns the unsubscribe. */
  onRecovered(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.listeners.clear();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.closed) return;
    const wait = this.backoffMs;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.options.probe().then(
        () => this.reportSuccess(),
        (err: unknown) => {
          if (!this.down) return;
          this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
          this.down.error = err instanceof Error ? err.message : String(err);
          this.nextTryAt = this.now() + this.backoffMs;
          this.scheduleProbe();
        },
      );
    }, wait);
    this.probeTimer.unref();
  }
}
