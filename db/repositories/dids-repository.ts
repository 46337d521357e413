import type { Selectable } from 'kysely';
import { DuplicateError, isUniqueViolation, ValidationError } from '../errors.ts';
import type { DidsTable } from '../schema.ts';
import { containsText, inTransaction, insertedId, type RepositoryContext } from './context.ts';

/** An inbound number: calls to it belong to `tenantId` (through `providerId` when set). */
export interface Did {
  id: number;
  number: string;
  tenantId: number;
  providerId: number | null;
  /** The account whose incoming dialplan (or phones) takes the call. */
  accountUsername: string | null;
  /** Else this dialplan of the tenant (else the tenant's dialplan `incoming`). */
  dialplan: string | null;
  createdAt: number;
}

export interface NewDid {
  number: string;
  tenantId: number;
  providerId?: number | null;
  accountUsername?: string | null;
  dialplan?: string | null;
}

/** `+` and digits, or digits; separators people type are dropped. */
export function normalizeDidNumber(text: string): string {
  const n = text.replace(/[\s().\-/]/g, '');
  if (!/^\+?[0-9]{2,20}$/.test(n)) throw new ValidationError('number', `expected a phone number (digits, optional +), got "${text}"`);
  return n;
}

function toDid(r: Selectable<DidsTable>): Did {
  return {
    id: r.id, number: r.number, tenantId: r.tenant_id, providerId: r.provider_id, accountUsername: r.account_username,
    dialplan: r.dialplan, createdAt: Number(r.created_at),
  };
}

export class DidsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async add(input: NewDid): Promise<Did> {
    const values = {
      number: normalizeDidNumber(input.number),
      tenant_id: input.tenantId,
      provider_id: input.providerId ?? null,
      account_username: input.accountUsername ?? null,
      dialplan: input.dialplan ?? null,
      created_at: Date.now(),
    };
    try {
      const id = await inTransaction(this.ctx.db, async (trx) => {
        // One owner per number across all tenants: a DID routes to exactly one place.
        const existing = await trx.selectFrom('dids').select('id').where('number', '=', values.number).executeTakeFirst();
        if (existing) throw new DuplicateError('did', values.number);
        return insertedId(await trx.insertInto('dids').values(values).executeTakeFirstOrThrow());
      });
      return toDid({ id, ...values });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('did', values.number);
      throw err;
    }
  }

  /** The DID for any of these spellings of a number (with and without `+`). */
  async findByNumber(number: string): Promise<Did | undefined> {
    const plain = number.replace(/[\s().\-/]/g, '');
    const forms = [...new Set([plain, plain.startsWith('+') ? plain.slice(1) : `+${plain}`])];
    const r = await this.ctx.db.selectFrom('dids').selectAll().where('number', 'in', forms).executeTakeFirst();
    return r ? toDid(r) : undefined;
  }

  async get(id: number): Promise<Did | undefined> {
    const r = await this.ctx.db.selectFrom('dids').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toDid(r) : undefined;
  }

  /** Changes where the number routes (not the number itself, nor its tenant); null clears. */
  async update(id: number, patch: { providerId?: number | null; accountUsername?: string | null; dialplan?: string | null }): Promise<Did | undefined> {
    const values: { provider_id?: number | null; account_username?: string | null; dialplan?: string | null } = {};
    if (patch.providerId !== undefined) values.provider_id = patch.providerId;
    if (patch.accountUsername !== undefined) values.account_username = patch.accountUsername;
    if (patch.dialplan !== undefined) values.dialplan = patch.dialplan;
    if (Object.keys(values).length > 0) await this.ctx.db.updateTable('dids').set(values).where('id', '=', id).execute();
    return this.get(id);
  }

  async removeById(id: number): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('dids').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async list(tenantId: number): Promise<Did[]> {
    return (await this.ctx.db.selectFrom('dids').selectAll().where('tenant_id', '=', tenantId).orderBy('number').execute()).map(toDid);
  }

  /** One page of a tenant's DIDs in number order (unique: the keyset), optionally numbers containing `q`. */
  async listPage(opts: { tenantId: number; limit: number; afterNumber?: string; q?: string }): Promise<Did[]> {
    let sel = this.ctx.db.selectFrom('dids').selectAll().where('tenant_id', '=', opts.tenantId).orderBy('number').limit(opts.limit);
    if (opts.afterNumber !== undefined) sel = sel.where('number', '>', opts.afterNumber);
    if (opts.q !== undefined && opts.q !== '') sel = sel.where(containsText('number', opts.q));
    return (await sel.execute()).map(toDid);
  }

  async remove(tenantId: number, number: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('dids').where('tenant_id', '=', tenantId).where('number', '=', normalizeDidNumber(number)).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
