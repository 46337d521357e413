import { sql } from 'kysely';
import { ValidationError } from '../errors.ts';
import { inTransaction, type RepositoryContext } from './context.ts';

export const KV_MAX_KEY_LENGTH = 64;
export const KV_MAX_VALUE_LENGTH = 10_000;

/** What one tenant may keep in the store: keys, and UTF-8 bytes of keys and values together. */
export interface KvQuota {
  maxKeys: number;
  maxBytes: number;
}

/** The switch's defaults (PATCHBAY_KV_MAX_KEYS, PATCHBAY_KV_MAX_BYTES). */
export const KV_DEFAULT_QUOTA: Readonly<KvQuota> = Object.freeze({ maxKeys: 1000, maxBytes: 1_048_576 });

/** A write that would take the tenant's store past its quota. Nothing was written. */
export class KvQuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KvQuotaError';
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError('key', 'must be a non-empty string');
  if (key.length > KV_MAX_KEY_LENGTH) throw new ValidationError('key', `longer than ${KV_MAX_KEY_LENGTH} characters (${key.length})`);
}

/**
 * Per-tenant key/value store behind the dialplan's DBRead/DBWrite/DBDelete/DBGetKeys. A tenant's
 * dialplans run on every call, so without a quota one tenant's script (or a caller steering it)
 * could fill the switch's database; the quota is checked in the write's transaction.
 */
export class KvRepository {
  private readonly quota: KvQuota;

  constructor(private readonly ctx: RepositoryContext) {
    this.quota = ctx.kvQuota ?? KV_DEFAULT_QUOTA;
  }

  async read(tenantId: number, key: string): Promise<string | undefined> {
    checkKey(key);
    const r = await this.ctx.db.selectFrom('tenant_kv').select('value').where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  async write(tenantId: number, key: string, value: string): Promise<void> {
    checkKey(key);
    if (typeof value !== 'string') throw new ValidationError('value', 'must be a string');
    if (value.length > KV_MAX_VALUE_LENGTH) throw new ValidationError('value', `longer than ${KV_MAX_VALUE_LENGTH} characters (${value.length})`);
    const bytes = Buffer.byteLength(key) + Buffer.byteLength(value);
    await inTransaction(this.ctx.db, async (db) => {
      const usage = await this.usageIn(db, tenantId, key);
      const keys = usage.keys + (usage.existing === undefined ? 1 : 0);
      const total = usage.bytes - (usage.existing ?? 0) + bytes;
      if (keys > this.quota.maxKeys) {
        throw new KvQuotaError(`the tenant's key/value store is full: at most ${this.quota.maxKeys} keys`);
      }
      if (total > this.quota.maxBytes) {
        throw new KvQuotaError(`the tenant's key/value store is full: at most ${this.quota.maxBytes} bytes of keys and values (this write would make ${total})`);
      }
      const q = db.insertInto('tenant_kv').values({ tenant_id: tenantId, key, value });
      if (this.ctx.dialect === 'mysql') {
        await q.onDuplicateKeyUpdate({ value }).execute();
      } else {
        await q.onConflict((oc) => oc.columns(['tenant_id', 'key']).doUpdateSet({ value })).execute();
      }
    });
  }

  /** Keys and bytes (UTF-8, keys and values) the tenant keeps. */
  async usage(tenantId: number): Promise<{ keys: number; bytes: number }> {
    const { keys, bytes } = await this.usageIn(this.ctx.db, tenantId, '');
    return { keys, bytes };
  }

  /** The tenant's totals, and the bytes of `key`'s entry if it exists. */
  private async usageIn(db: RepositoryContext['db'], tenantId: number, key: string): Promise<{ keys: number; bytes: number; existing?: number }> {
    // UTF-8 bytes: SQLite's length() of a BLOB, MariaDB's LENGTH() of text.
    const size = this.ctx.dialect === 'mysql'
      ? sql<number>`LENGTH(${sql.ref('key')}) + LENGTH(${sql.ref('value')})`
      : sql<number>`length(CAST(${sql.ref('key')} AS BLOB)) + length(CAST(${sql.ref('value')} AS BLOB))`;
    const [totals, existing] = await Promise.all([
      db.selectFrom('tenant_kv')
        .select((eb) => [eb.fn.countAll<number>().as('keys'), eb.fn.sum<number>(size).as('bytes')])
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst(),
      key === '' ? undefined : db.selectFrom('tenant_kv').select(size.as('bytes')).where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst(),
    ]);
    return {
      keys: Number(totals?.keys ?? 0),
      bytes: Number(totals?.bytes ?? 0),
      ...(existing && { existing: Number(existing.bytes) }),
    };
  }

  async delete(tenantId: number, key: string): Promise<boolean> {
    checkKey(key);
    const r = await this.ctx.db.deleteFrom('tenant_kv').where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async keys(tenantId: number): Promise<string[]> {
    const rows = await this.ctx.db.selectFrom('tenant_kv').select('key').where('tenant_id', '=', tenantId).orderBy('key').execute();
    return rows.map((r) => r.key);
  }
}
