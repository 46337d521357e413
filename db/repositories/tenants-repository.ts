import { DuplicateError, isUniqueViolation, NotFoundError, ValidationError } from '../errors.ts';
import { containsText, insertedId, normalizeDomain, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';

export interface Tenant {
  id: number;
  domain: string;
  name: string;
  aliases: string[];
  createdAt: number;
  /** An operator demands TOTP 2FA of every web user of this tenant. */
  require2fa: boolean;
  /** CDRs older than this many days are purged nightly. */
  cdrRetentionDays: number;
  /** Audit entries older than this many days are purged nightly. */
  auditRetentionDays: number;
  /** The tenant's park slots `first-last`; null = the switch default (PATCHBAY_PARK_SLOTS). */
  parkSlots: string | null;
  /** Seconds before a parked call rings its parker again (0 = never); null = PATCHBAY_PARK_RECALL_SEC. */
  parkRecallSeconds: number | null;
}

type TenantRow = { id: number; domain: string; name: string; created_at: number; require_2fa: number; cdr_retention_days: number; audit_retention_days: number; park_slots: string | null; park_recall_sec: number | null };

export const DEFAULT_RETENTION_DAYS = 400;

const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

export function validateDomain(domain: string, field = 'domain'): string {
  const d = normalizeDomain(domain);
  if (!DOMAIN.test(d)) throw new ValidationError(field, `not a valid domain name: "${domain}"`);
  return d;
}

export class TenantsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  private async domainTaken(trx: RepositoryContext['db'], domain: string): Promise<boolean> {
    const t = await trx.selectFrom('tenants').select('id').where('domain', '=', domain).executeTakeFirst();
    if (t) return true;
    const a = await trx.selectFrom('tenant_aliases').select('id').where('domain', '=', domain).executeTakeFirst();
    return a !== undefined;
  }

  async add(input: { domain: string; name?: string }): Promise<Tenant> {
    const domain = validateDomain(input.domain);
    const name = input.name?.trim() || domain;
    const createdAt = Date.now();
    try {
      const id = await inTransaction(this.ctx.db, async (trx) => {
        if (await this.domainTaken(trx, domain)) throw new DuplicateError('tenant', domain);
        const tenantId = insertedId(await trx.insertInto('tenants').values({ domain, name, created_at: createdAt }).executeTakeFirstOrThrow());
        // The key/value store's usage row exists from the start: a write locks it, never a gap.
        await trx.insertInto('tenant_kv_usage').values({ tenant_id: tenantId, key_count: 0, byte_count: 0 }).execute();
        return tenantId;
      });
      return { id, domain, name, aliases: [], createdAt, require2fa: false, cdrRetentionDays: DEFAULT_RETENTION_DAYS, auditRetentionDays: DEFAULT_RETENTION_DAYS, parkSlots: null, parkRecallSeconds: null };
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('tenant', domain);
      throw err;
    }
  }

  async addAlias(tenantId: number, alias: string): Promise<void> {
    const domain = validateDomain(alias, 'alias');
    try {
      await inTransaction(this.ctx.db, async (trx) => {
        if (await this.domainTaken(trx, domain)) throw new DuplicateError('domain', domain);
        await trx.insertInto('tenant_aliases').values({ tenant_id: tenantId, domain }).execute();
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('domain', domain);
      throw err;
    }
  }

  async removeAlias(alias: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('tenant_aliases').where('domain', '=', normalizeDomain(alias)).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Finds a tenant by its primary domain or one of its aliases (case-insensitive). */
  async findByDomain(domainOrAlias: string): Promise<Tenant | undefined> {
    const domain = normalizeDomain(domainOrAlias);
    let row = await this.ctx.db.selectFrom('tenants').selectAll().where('domain', '=', domain).executeTakeFirst();
    if (!row) {
      row = await this.ctx.db
        .selectFrom('tenant_aliases')
        .innerJoin('tenants', 'tenants.id', 'tenant_aliases.tenant_id')
        .selectAll('tenants')
        .where('tenant_aliases.domain', '=', domain)
        .executeTakeFirst();
    }
    return row ? this.withAliases(row) : undefined;
  }

  /** Like findByDomain but throws NotFoundError. */
  async requireByDomain(domainOrAlias: string): Promise<Tenant> {
    const t = await this.findByDomain(domainOrAlias);
    if (!t) throw new NotFoundError('tenant', normalizeDomain(domainOrAlias));
    return t;
  }

  async get(id: number): Promise<Tenant | undefined> {
    const row = await this.ctx.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.withAliases(row) : undefined;
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.ctx.db.selectFrom('tenants').selectAll().orderBy('domain').execute();
    const aliases = await this.ctx.db.selectFrom('tenant_aliases').selectAll().orderBy('domain').execute();
    return rows.map((r) => this.toTenant(r, aliases));
  }

  /**
   * One page in domain order (the domain is unique, so it is the keyset): tenants after
   * `afterDomain`, optionally those whose domain or name contains `q` (letter case aside).
   */
  async listPage(opts: { limit: number; afterDomain?: string; q?: string }): Promise<Tenant[]> {
    let sel = this.ctx.db.selectFrom('tenants').selectAll().orderBy('domain').limit(opts.limit);
    if (opts.afterDomain !== undefined) sel = sel.where('domain', '>', opts.afterDomain);
    const q = opts.q;
    if (q !== undefined && q !== '') sel = sel.where((eb) => eb.or([containsText('domain', q), containsText('name', q)]));
    const rows = await sel.execute();
    if (rows.length === 0) return [];
    const aliases = await this.ctx.db.selectFrom('tenant_aliases').selectAll().where('tenant_id', 'in', rows.map((r) => r.id)).orderBy('domain').execute();
    return rows.map((r) => this.toTenant(r, aliases));
  }

  private toTenant(r: TenantRow, aliases: ReadonlyArray<{ tenant_id: number; domain: string }>): Tenant {
    return {
      id: r.id,
      domain: r.domain,
      name: r.name,
      createdAt: Number(r.created_at),
      require2fa: Number(r.require_2fa) === 1,
      cdrRetentionDays: Number(r.cdr_retention_days),
      auditRetentionDays: Number(r.audit_retention_days),
      ...parkOf(r),
      aliases: aliases.filter((a) => a.tenant_id === r.id).map((a) => a.domain),
    };
  }

  async remove(id: number): Promise<boolean> {
    const r = await inTransaction(this.ctx.db, async (trx) => {
      // Explicit child deletes: SQLite only cascades with foreign_keys on, and this keeps both dialects equal.
      await trx.deleteFrom('tenant_kv').where('tenant_id', '=', id).execute();
      await trx.deleteFrom('tenant_kv_usage').where('tenant_id', '=', id).execute();
      const accountIds = trx.selectFrom('sip_accounts').select('id').where('tenant_id', '=', id);
      await trx.deleteFrom('registrar_bindings').where('account_id', 'in', accountIds).execute();
      await trx.deleteFrom('sip_accounts').where('tenant_id', '=', id).execute();
      await trx.deleteFrom('dialplans').where('tenant_id', '=', id).execute();
      const providerIds = trx.selectFrom('providers').select('id').where('tenant_id', '=', id);
      await trx.deleteFrom('provider_registrations').where('provider_id', 'in', providerIds).execute();
      await trx.deleteFrom('providers').where('tenant_id', '=', id).execute();
      const userIds = trx.selectFrom('users').select('id').where('tenant_id', '=', id);
      await trx.deleteFrom('api_tokens').where('user_id', 'in', userIds).execute();
      await trx.deleteFrom('web_sessions').where('user_id', 'in', userIds).execute();
      await trx.deleteFrom('user_recovery_codes').where('user_id', 'in', userIds).execute();
      await trx.deleteFrom('tenant_secrets').where('tenant_id', '=', id).execute();
      await trx.deleteFrom('users').where('tenant_id', '=', id).execute();
      await trx.deleteFrom('tenant_aliases').where('tenant_id', '=', id).execute();
      await trx.updateTable('cdrs').set({ tenant_id: null }).where('tenant_id', '=', id).execute();
      return trx.deleteFrom('tenants').where('id', '=', id).executeTakeFirst();
    });
    return Number(r.numDeletedRows) > 0;
  }

  async update(
    id: number,
    patch: { name?: string; require2fa?: boolean; cdrRetentionDays?: number; auditRetentionDays?: number; parkSlots?: string | null; parkRecallSeconds?: number | null },
  ): Promise<Tenant | undefined> {
    for (const field of ['cdrRetentionDays', 'auditRetentionDays'] as const) {
      const v = patch[field];
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 36_500)) throw new ValidationError(field, 'must be 1..36500 days');
    }
    // The callers (API, CLI) check the range's meaning with the calls layer's parser; here only its shape.
    if (patch.parkSlots != null && !/^\d{1,6}-\d{1,6}$/.test(patch.parkSlots)) throw new ValidationError('parkSlots', 'expected first-last, like 70-79');
    const recall = patch.parkRecallSeconds;
    if (recall != null && (!Number.isInteger(recall) || recall < 0 || recall > 86_400)) throw new ValidationError('parkRecallSeconds', 'must be 0..86400 seconds');
    const set = {
      ...(patch.parkSlots !== undefined && { park_slots: patch.parkSlots }),
      ...(patch.parkRecallSeconds !== undefined && { park_recall_sec: patch.parkRecallSeconds }),
      ...(patch.cdrRetentionDays !== undefined && { cdr_retention_days: patch.cdrRetentionDays }),
      ...(patch.auditRetentionDays !== undefined && { audit_retention_days: patch.auditRetentionDays }),
      ...(patch.name !== undefined && { name: patch.name.trim().slice(0, 255) }),
      ...(patch.require2fa !== undefined && { require_2fa: patch.require2fa ? 1 : 0 }),
    };
    if (Object.keys(set).length > 0) await this.ctx.db.updateTable('tenants').set(set).where('id', '=', id).execute();
    return this.get(id);
  }

  /** Removes an alias of this tenant only; false when the tenant has no such alias. */
  async removeAliasOf(tenantId: number, alias: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('tenant_aliases').where('tenant_id', '=', tenantId).where('domain', '=', normalizeDomain(alias)).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  private async withAliases(row: TenantRow): Promise<Tenant> {
    const aliases = await this.ctx.db
      .selectFrom('tenant_aliases')
      .select('domain')
      .where('tenant_id', '=', row.id)
      .orderBy('domain')
      .execute();
    return {
      id: row.id,
      domain: row.domain,
      name: row.name,
      createdAt: Number(row.created_at),
      require2fa: Number(row.require_2fa) === 1,
      cdrRetentionDays: Number(row.cdr_retention_days),
      auditRetentionDays: Number(row.audit_retention_days),
      ...parkOf(row),
      aliases: aliases.map((a) => a.domain),
    };
  }
}

function parkOf(row: { park_slots: string | null; park_recall_sec: number | null }): Pick<Tenant, 'parkSlots' | 'parkRecallSeconds'> {
  return { parkSlots: row.park_slots ?? null, parkRecallSeconds: row.park_recall_sec == null ? null : Number(row.park_recall_sec) };
}
