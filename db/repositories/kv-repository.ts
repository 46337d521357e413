import { ValidationError } from '../errors.ts';
import type { RepositoryContext } from './context.ts';

export const KV_MAX_KEY_LENGTH = 64;
export const KV_MAX_VALUE_LENGTH = 10_000;

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError('key', 'must be a non-empty string');
  if (key.length > KV_MAX_KEY_LENGTH) throw new ValidationError('key', `longer than ${KV_MAX_KEY_LENGTH} characters (${key.length})`);
}

/** Per-tenant key/value store behind the dialplan's DBRead/DBWrite/DBDelete/DBGetKeys. */
export class KvRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async read(tenantId: number, key: string): Promise<string | undefined> {
    checkKey(key);
    const r = await this.ctx.db.selectFrom('tenant_kv').select('value').where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  async write(tenantId: number, key: string, value: string): Promise<void> {
    checkKey(key);
    if (typeof value !== 'string') throw new ValidationError('value', 'must be a string');
    if (value.length > KV_MAX_VALUE_LENGTH) throw new ValidationError('value', `longer than ${KV_MAX_VALUE_LENGTH} characters (${value.length})`);
    const q = this.ctx.db.insertInto('tenant_kv').values({ tenant_id: tenantId, key, value });
    if (this.ctx.dialect === 'mysql') {
      await q.onDuplicateKeyUpdate({ value }).execute();
    } else {
      await q.onConflict((oc) => oc.columns(['tenant_id', 'key']).doUpdateSet({ value })).execute();
    }
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
