import { ValidationError } from '../errors.ts';
import { decryptSecret, encryptSecret } from '../secrets.ts';
import { containsText, type RepositoryContext } from './context.ts';

export const SECRET_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const SECRET_MAX_VALUE_LENGTH = 4096;

export interface TenantSecretInfo {
  name: string;
  createdAt: number;
  updatedAt: number;
}

/** Bound to tenant and name: a sealed value copied into another row does not open. */
const aad = (tenantId: number, name: string) => `tenant_secrets:${tenantId}:${name}`;

/**
 * Per-tenant secrets (API keys for WebGet and the like): write-only through the API, sealed
 * with AES-256-GCM under the secret key, opened only for a dialplan's sys.Secret(name).
 */
export class TenantSecretsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  private key(): Buffer {
    if (!this.ctx.secretKey) throw new Error('tenant secrets need the database opened with the secret key');
    return this.ctx.secretKey;
  }

  /** Creates or replaces a secret; true when it was new. */
  async put(tenantId: number, name: string, value: string): Promise<boolean> {
    if (!SECRET_NAME.test(name)) throw new ValidationError('name', 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
    if (typeof value !== 'string' || value.length === 0) throw new ValidationError('value', 'must be a non-empty string');
    if (value.length > SECRET_MAX_VALUE_LENGTH) throw new ValidationError('value', `longer than ${SECRET_MAX_VALUE_LENGTH} characters`);
    const enc = encryptSecret(this.key(), value, aad(tenantId, name));
    const now = Date.now();
    const existing = await this.ctx.db.selectFrom('tenant_secrets').select('name').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    if (existing) {
      await this.ctx.db.updateTable('tenant_secrets').set({ value_enc: enc, updated_at: now }).where('tenant_id', '=', tenantId).where('name', '=', name).execute();
      return false;
    }
    await this.ctx.db.insertInto('tenant_secrets').values({ tenant_id: tenantId, name, value_enc: enc, created_at: now, updated_at: now }).execute();
    return true;
  }

  /** The clear value, for the dialplan runtime only. */
  async reveal(tenantId: number, name: string): Promise<string | undefined> {
    if (!SECRET_NAME.test(name)) return undefined;
    const r = await this.ctx.db.selectFrom('tenant_secrets').select('value_enc').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    return r ? decryptSecret(this.key(), r.value_enc, aad(tenantId, name)) : undefined;
  }

  async list(tenantId: number): Promise<TenantSecretInfo[]> {
    const rows = await this.ctx.db.selectFrom('tenant_secrets').select(['name', 'created_at', 'updated_at']).where('tenant_id', '=', tenantId).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }));
  }

  /** One page in name order (unique per tenant: the keyset), optionally names containing `q` (letter case aside). */
  async listPage(opts: { tenantId: number; limit: number; afterName?: string; q?: string }): Promise<TenantSecretInfo[]> {
    let sel = this.ctx.db.selectFrom('tenant_secrets').select(['name', 'created_at', 'updated_at']).where('tenant_id', '=', opts.tenantId).orderBy('name').limit(opts.limit);
    if (opts.afterName !== undefined) sel = sel.where('name', '>', opts.afterName);
    if (opts.q !== undefined && opts.q !== '') sel = sel.where(containsText('name', opts.q));
    return (await sel.execute()).map((r) => ({ name: r.name, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }));
  }

  async delete(tenantId: number, name: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('tenant_secrets').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
