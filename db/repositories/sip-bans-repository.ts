import type { RepositoryContext } from './context.ts';

/** A brute-force ban as stored (see server/sip AuthFailureGuard). */
export interface StoredBan {
  /** IPv4 address or IPv6 /64 (`2001:db8:1:2::/64`). */
  address: string;
  reason: string;
  /** Epoch ms. */
  until: number;
  /** Bans in a row of this source (1 = first). */
  count: number;
  bannedAt: number;
}

/**
 * The bans the running server(s) imposed: written when a ban starts, read back every few seconds
 * so that an operator's `patchbay ban remove` reaches the server, and at start so that a restart
 * does not lift them.
 */
export class SipBansRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async save(ban: StoredBan): Promise<void> {
    const row = { address: ban.address, reason: ban.reason.slice(0, 64), until: ban.until, count: ban.count, banned_at: ban.bannedAt };
    const q = this.ctx.db.insertInto('sip_bans').values(row);
    const update = { reason: row.reason, until: row.until, count: row.count, banned_at: row.banned_at };
    if (this.ctx.dialect === 'mysql') await q.onDuplicateKeyUpdate(update).execute();
    else await q.onConflict((oc) => oc.column('address').doUpdateSet(update)).execute();
  }

  /** Every stored ban, active ones (`until` > now) only when `now` is given; soonest end last. */
  async list(now?: number): Promise<StoredBan[]> {
    let q = this.ctx.db.selectFrom('sip_bans').selectAll();
    if (now !== undefined) q = q.where('until', '>', now);
    const rows = await q.orderBy('until', 'desc').orderBy('address').execute();
    return rows.map((r) => ({ address: r.address, reason: r.reason, until: Number(r.until), count: Number(r.count), bannedAt: Number(r.banned_at) }));
  }

  /** False when there was no such row. */
  async remove(address: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('sip_bans').where('address', '=', address).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Drops bans that ended before `before`; returns how many. */
  async removeEnded(before: number): Promise<number> {
    const r = await this.ctx.db.deleteFrom('sip_bans').where('until', '<=', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
