import type { RepositoryContext } from './context.ts';
import { insertedId } from './context.ts';

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

export class AuditRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async record(entry: AuditEntry): Promise<number> {
    return insertedId(
      await this.ctx.db
        .insertInto('audit_log')
        .values({
          at: Date.now(),
          actor: entry.actor.slice(0, 255),
          action: entry.action.slice(0, 255),
          target: entry.target?.slice(0, 512) ?? null,
          details: entry.details ? JSON.stringify(entry.details) : null,
          source_address: entry.sourceAddress?.slice(0, 64) ?? null,
          tenant_id: entry.tenantId ?? null,
        })
        .executeTakeFirstOrThrow(),
    );
  }

  async list(opts: { tenantId?: number; limit?: number } = {}): Promise<StoredAuditEntry[]> {
    let q = this.ctx.db.selectFrom('audit_log').selectAll();
    if (opts.tenantId !== undefined) q = q.where('tenant_id', '=', opts.tenantId);
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
