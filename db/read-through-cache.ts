import type { DatabaseHealth } from './database-health.ts';

export interface ReadThroughCacheOptions {
  /** An entry younger than this is served without asking the database. */
  freshMs: number;
  /** Tells the cache when the database is down (then stale entries are served at once). */
  health?: DatabaseHealth;
  /**
   * Longest a call-path lookup waits on a refresh before it takes the stale entry (the read goes
   * on in the background and updates the entry when it answers). Default 1000 ms.
   */
  maxWaitMs?: number;
  /** Bound on entries; past it the oldest are dropped. Default 10 000. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  at: number;
  /** Invalidated: re-read on next use, but still served if the database cannot answer. */
  stale: boolean;
  refreshing?: Promise<V>;
}

/**
 * Database reads on the call and REGISTER paths, served from memory. A fresh entry is answered at
 * once; a stale (old or invalidated) one is re-read, and when that read fails — or the database is
 * known to be down, or it does not answer within `maxWaitMs` — the last known value is served and
 * the read is retried in the background. Only a key never read before has to reach the database.
 */
export class ReadThroughCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly maxWaitMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: ReadThroughCacheOptions) {
    this.maxWaitMs = options.maxWaitMs ?? 1000;
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(key: string, read: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && !hit.stale && this.now() - hit.at < this.options.freshMs) return hit.value;
    if (!hit) return this.refresh(key, read);
    const health = this.options.health;
    if (health && !health.canTry()) return hit.value;
    const refreshing = hit.refreshing ?? this.refresh(key, read, hit);
    // A failed or slow refresh never fails the caller: the last known value is the answer.
    return withDeadline(refreshing, this.maxWaitMs).then(
      (value) => (value === TIMED_OUT ? hit.value : value),
      () => hit.value,
    );
  }

  /**
   * Marks entries stale (all, or those `which` picks): re-read on next use. They are kept, not
   * dropped, so an invalidation during an outage cannot take away what calls still need.
   */
  invalidate(which?: (key: string) => boolean): void {
    for (const [key, entry] of this.entries) if (!which || which(key)) entry.stale = true;
  }

  /** Forgets entries outright (a test or a bounded cache's reset). */
  clear(): void {
    this.entries.clear();
  }

  private refresh(key: string, read: () => Promise<V>, hit?: Entry<V>): Promise<V> {
    const p = read().then(
      (value) => {
        this.options.health?.reportSuccess();
        this.set(key, value);
        return value;
      },
      (err: unknown) => {
        this.options.health?.reportFailure(err);
        if (hit) hit.refreshing = undefined;
        throw err;
      },
    );
    if (hit) hit.refreshing = p;
    return p;
  }

  private set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, at: this.now(), stale: false });
  }
}

const TIMED_OUT: unique symbol = Symbol('timed out');

/** `p`, or TIMED_OUT if it has not settled within `ms` (p goes on; its rejection is handled). */
export function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
  });
  p.catch(() => {});
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
