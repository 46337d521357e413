/**
 * "No such thing" answers, believed for a TTL, at most `maxEntries` of them (least recently
 * inserted dropped first). Anyone can ask for made-up user names at line rate; without the bound
 * each one stays in memory, without the cache each one is a database read.
 */
export class NegativeCache {
  /** Insertion order is expiry order (one TTL for all), so eviction and pruning take the head. */
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    const at = this.entries.get(key);
    if (at === undefined) return false;
    if (this.now() - at > this.ttlMs) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  add(key: string): void {
    const now = this.now();
    this.entries.delete(key);
    for (const [k, at] of this.entries) {
      if (this.entries.size < this.maxEntries && now - at <= this.ttlMs) break;
      this.entries.delete(k);
    }
    this.entries.set(key, now);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
