import type { Database } from '../../db/index.ts';

export interface RetentionResult {
  /** Per tenant: what was removed. */
  tenants: Array<{ tenantId: number; cdrs: number; audit: number }>;
  cdrs: number;
  audit: number;
  /** Browser sessions past their expiry or idle timeout. */
  sessions: number;
}

const DAY_MS = 24 * 3600_000;

/** Lets the SIP event loop run between two batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Purges each tenant's CDRs and audit entries past its retention, `batchSize` rows per
 * statement with a turn of the event loop between, and writes what it removed to the tenant's
 * audit log (the purge record itself is the newest entry, so it survives the purge).
 */
export async function runRetention(db: Database, opts: { now?: number; batchSize?: number; maxBatches?: number; sessionIdleMs?: number } = {}): Promise<RetentionResult> {
  const now = opts.now ?? Date.now();
  const batch = opts.batchSize ?? 1000;
  const maxBatches = opts.maxBatches ?? 100_000;
  const result: RetentionResult = { tenants: [], cdrs: 0, audit: 0, sessions: 0 };
  // Dead sessions are deleted when next seen; these are the ones never seen again.
  result.sessions = await db.sessions.removeDead(opts.sessionIdleMs ?? 30 * 60_000, now);
  for (const tenant of await db.tenants.list()) {
    let cdrs = 0;
    let audit = 0;
    const cdrCutoff = now - tenant.cdrRetentionDays * DAY_MS;
    const auditCutoff = now - tenant.auditRetentionDays * DAY_MS;
    for (let i = 0; i < maxBatches; i++) {
      const n = await db.cdrs.purgeBatch(tenant.id, cdrCutoff, batch);
      cdrs += n;
      await yieldToEventLoop();
      if (n < batch) break;
    }
    for (let i = 0; i < maxBatches; i++) {
      const n = await db.audit.purgeBatch(tenant.id, auditCutoff, batch);
      audit += n;
      await yieldToEventLoop();
      if (n < batch) break;
    }
    if (cdrs > 0 || audit > 0) {
      await db.audit.record({
        actor: 'system',
        action: 'retention.purge',
        target: `tenant:${tenant.domain}`,
        details: { cdrs, audit, cdrsBefore: cdrCutoff, auditBefore: auditCutoff, cdrRetentionDays: tenant.cdrRetentionDays, auditRetentionDays: tenant.auditRetentionDays },
        sourceAddress: 'system',
        tenantId: tenant.id,
      });
    }
    result.tenants.push({ tenantId: tenant.id, cdrs, audit });
    result.cdrs += cdrs;
    result.audit += audit;
  }
  return result;
}
