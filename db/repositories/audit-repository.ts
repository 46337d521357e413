import type { RepositoryContext } from './context.ts';
import { escapeLike, insertedId, likeColumn } from './context.ts';

export interface AuditEntry {
  /** Who: e-mail, `cli`, `token:<id>`, `system`. */
  actor: string;
  /** What: e.g. `account.add`. */
  action: string;
  target?: string | null;
  details?: Record<string, unknown> | null;
  /** From where: client IP, or `cli`. */
  sourceAddress?: string | null;
  tenantId?: number | null;
  /** When it happened, if not now (a journaled write applied after an outage). */
  at?: number;
  /** The write journal's idempotency key: a row with it is written once (see hasRecordKey). */
  recordKey?: string;
}

export interface StoredAuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown> | null;
  sourceAddress: string | null;
  tenantId: number | null;
}

export interface AuditFilter {
  tenantId?: number;
  limit?: number;
  beforeId?: number;
  from?: number;
  to?: number;
  actor?: string;
  /** Exact action or a prefix ending in `.*` (`account.*`). */
  action?: string;
}

export class AuditRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  /** Deletes up to `limit` of a tenant's audit entries older than `cutoff` (epoch ms); returns how many. */
  async purgeBatch(tenantId: number, cutoff: number, limit: number): Promise<number> {
    const ids = await this.ctx.db.selectFrom('audit_log').select('id').where('tenant_id', '=', tenantId).where('at', '<', cutoff).orderBy('id').limit(limit).execute();
    if (ids.length === 0) return 0;
    const r = await this.ctx.db.deleteFrom('audit_log').where('id', 'in', ids.map((x) => x.id)).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async record(entry: AuditEntry): Promise<number> {
    return insertedId(
      await this.ctx.db
        .insertInto('audit_log')
        .values({
          at: entry.at ?? Date.now(),
          actor: entry.actor.slice(0, 255),
          action: entry.action.slice(0, 255),
          target: entry.target?.slice(0, 512) ?? null,
          details: entry.details ? JSON.stringify(entry.details) : null,
          source_address: entry.sourceAddress?.slice(0, 64) ?? null,
          tenant_id: entry.tenantId ?? null,
          record_key: entry.recordKey ?? null,
        })
        .executeTakeFirstOrThrow(),
    );
  }

  /** Whether the write journal already wrote the row with this key (then its change is in too). */
  async hasRecordKey(recordKey: string): Promise<boolean> {
    const row = await this.ctx.db.selectFrom('audit_log').select('id').where('record_key', '=', recordKey).executeTakeFirst();
    return row !== undefined;
  }

  /** Newest first; `beforeId` pages back; the other filters narrow by tenant, time, actor, action prefix. */
  async list(opts: AuditFilter = {}): Promise<StoredAuditEntry[]> {
    let q = this.ctx.db.selectFrom('audit_log').selectAll();
    if (opts.tenantId !== undefined) q = q.where('tenant_id', '=', opts.tenantId);
    if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId);
    if (opts.from !== undefined) q = q.where('at', '>=', opts.from);
    if (opts.to !== undefined) q = q.where('at', '<', opts.to);
    if (opts.actor !== undefined) q = q.where('actor', '=', opts.actor);
    if (opts.action !== undefined) {
      q = opts.action.endsWith('.*') ? q.where(likeColumn('action', `${escapeLike(opts.action.slice(0, -1))}%`)) : q.where('action', '=', opts.action);
    }
    const rows = await q.orderBy('id', 'desc').limit(Math.min(Math.max(opts.limit ?? 100, 1), 1000)).execute();
    return rows.map((r) => ({
      id: r.id,
      at: Number(r.at),
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
      sourceAddress: r.source_address,
      tenantId: r.tenant_id,
    }));
  }
}
