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
 * could fill the switch's database. The tenant's usage is one row (`tenant_kv_usage`) kept by
 * each write and delete in its own transaction: a write costs one locked row, not a scan of the
 * tenant's keys, and the row lock orders the writers of one tenant across switch processes.
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
    const bytes = entryBytes(key, value);
    await inTransaction(this.ctx.db, async (db) => {
      const usage = await this.lockUsage(db, tenantId);
      const existing = await this.entryBytesIn(db, tenantId, key);
      const keys = usage.keys + (existing === undefined ? 1 : 0);
      const total = usage.bytes - (existing ?? 0) + bytes;
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
      await db.updateTable('tenant_kv_usage').set({ key_count: keys, byte_count: total }).where('tenant_id', '=', tenantId).execute();
    });
  }

  /** Keys and bytes (UTF-8, keys and values) the tenant keeps. */
  async usage(tenantId: number): Promise<{ keys: number; bytes: number }> {
    const r = await this.ctx.db.selectFrom('tenant_kv_usage').select(['key_count', 'byte_count']).where('tenant_id', '=', tenantId).executeTakeFirst();
    return { keys: Number(r?.key_count ?? 0), bytes: Number(r?.byte_count ?? 0) };
  }

  async delete(tenantId: number, key: string): Promise<boolean> {
    checkKey(key);
    return inTransaction(this.ctx.db, async (db) => {
      const usage = await this.lockUsage(db, tenantId);
      const existing = await this.entryBytesIn(db, tenantId, key);
      if (existing === undefined) return false;
      await db.deleteFrom('tenant_kv').where('tenant_id', '=', tenantId).where('key', '=', key).execute();
      await db.updateTable('tenant_kv_usage').set({ key_count: usage.keys - 1, byte_count: usage.bytes - existing }).where('tenant_id', '=', tenantId).execute();
      return true;
    });
  }

  async keys(tenantId: number): Promise<string[]> {
    const rows = await this.ctx.db.selectFrom('tenant_kv').select('key').where('tenant_id', '=', tenantId).orderBy('key').execute();
    return rows.map((r) => r.key);
  }

  /**
   * The tenant's usage row, locked for the rest of the transaction (MariaDB: FOR UPDATE; SQLite
   * has one writer). Tenants get theirs when they are made (and from the migration); one made
   * around that (raw SQL) has an empty store, so its row starts at zero.
   */
  private async lockUsage(db: RepositoryContext['db'], tenantId: number): Promise<{ keys: number; bytes: number }> {
    const select = () => {
      const q = db.selectFrom('tenant_kv_usage').select(['key_count', 'byte_count']).where('tenant_id', '=', tenantId);
      return (this.ctx.dialect === 'mysql' ? q.forUpdate() : q).executeTakeFirst();
    };
    let row = await select();
    if (!row) {
      const q = db.insertInto('tenant_kv_usage').values({ tenant_id: tenantId, key_count: 0, byte_count: 0 });
      // Another process may make it at the same moment: then its row is the one locked.
      await (this.ctx.dialect === 'mysql' ? q.ignore() : q.onConflict((oc) => oc.column('tenant_id').doNothing())).execute();
      row = await select();
    }
    return { keys: Number(row?.key_count ?? 0), bytes: Number(row?.byte_count ?? 0) };
  }

  /**
   * The UTF-8 bytes of `key`'s entry, if it exists. Read after lockUsage: the first plain read of
   * the transaction, so it sees what the tenant's previous writer committed.
   */
  private async entryBytesIn(db: RepositoryContext['db'], tenantId: number, key: string): Promise<number | undefined> {
    const r = await db.selectFrom('tenant_kv').select('value').where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
    return r ? entryBytes(key, r.value) : undefined;
  }
}

function entryBytes(key: string, value: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(value);
}
