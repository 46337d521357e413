import type { Logger } from 'pino';
import type { StoredBan } from '../../db/index.ts';
import type { BanInfo, PersistableAuthGuard } from '../sip/index.ts';

/** Where bans are kept (db.bans). */
export interface BanStore {
  save(ban: StoredBan): Promise<void>;
  list(now?: number): Promise<StoredBan[]>;
  removeEnded(before: number): Promise<number>;
}

export interface BanSyncOptions {
  guard: PersistableAuthGuard;
  store: BanStore;
  logger: Logger;
  /** How often the table is read back (operator removals, other nodes' bans). Default 2 s. */
  pollMs?: number;
  now?: () => number;
}

/**
 * Keeps the brute-force guard's bans in the database, so that the operator sees them
 * (`patchbay ban list`), can lift one while the server runs (`patchbay ban remove`: the row goes,
 * the next poll lifts the ban in memory) and a restart keeps them. The guard stays the authority
 * on the hot path; the table is read every `pollMs`, never per request.
 */
export class BanSync {
  private readonly pollMs: number;
  private readonly now: () => number;
  /** Bans known to be in the table, with the time they were (last) written or read there. */
  private readonly stored = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private writes = new Set<Promise<void>>();

  constructor(private readonly opts: BanSyncOptions) {
    this.pollMs = opts.pollMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  /** Restores the stored bans, then persists new ones and polls for removals. */
  async start(): Promise<number> {
    const now = this.now();
    const rows = await this.opts.store.list(now);
    for (const r of rows) {
      this.opts.guard.restore(toBanInfo(r));
      this.stored.set(r.address, now);
    }
    this.opts.guard.onBan = (ban) => this.persist(ban);
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
    if (rows.length > 0) this.opts.logger.info({ event: 'auth.bans-restored', bans: rows.length }, `${rows.length} authentication ban(s) restored`);
    return rows.length;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.opts.guard.onBan = undefined;
    await this.polling;
    await Promise.allSettled([...this.writes]);
  }

  /** One read of the table: lifts bans whose row the operator removed, adopts bans other nodes wrote. */
  poll(): Promise<void> {
    this.polling ??= this.readBack().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async readBack(): Promise<void> {
    const startedAt = this.now();
    let rows: StoredBan[];
    try {
      await this.opts.store.removeEnded(startedAt);
      rows = await this.opts.store.list(startedAt);
    } catch (err) {
      this.opts.logger.warn({ err }, 'reading the ban table failed; bans stay as they are in memory');
      return;
    }
    const inTable = new Map(rows.map((r) => [r.address, r]));
    const active = new Map(this.opts.guard.bans().map((b) => [b.source, b]));
    for (const [address, seenAt] of this.stored) {
      // Only a row that was in the table before this read started can have been removed since.
      if (inTable.has(address) || seenAt >= startedAt) continue;
      this.stored.delete(address);
      if (active.has(address)) this.opts.guard.unban(address);
    }
    for (const r of rows) {
      if (!active.has(r.address) || active.get(r.address)!.until < r.until) this.opts.guard.restore(toBanInfo(r));
      this.stored.set(r.address, startedAt);
    }
  }

  private persist(ban: BanInfo): void {
    const write = this.opts.store
      .save({ address: ban.source, reason: ban.reason, until: ban.until, count: ban.level, bannedAt: this.now() })
      .then(
        () => void this.stored.set(ban.source, this.now()),
        (err: unknown) => this.opts.logger.warn({ err, source: ban.source }, 'storing a ban failed; it holds in memory only'),
      )
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
  }
}

function toBanInfo(r: StoredBan): BanInfo {
  return { source: r.address, until: r.until, level: r.count, reason: r.reason };
}
