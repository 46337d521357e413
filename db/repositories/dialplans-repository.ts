import type { Selectable } from 'kysely';
import { isUniqueViolation, ValidationError } from '../errors.ts';
import type { DialplansTable } from '../schema.ts';
import { insertedId, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';

export type DialplanLanguage = 'ts' | 'js';

export interface DialplanVersion {
  id: number;
  tenantId: number;
  name: string;
  version: number;
  language: DialplanLanguage;
  source: string;
  compiledJs: string;
  sourceMap: string;
  author: string | null;
  createdAt: number;
  /** What the author said about this version (null on versions saved before messages existed). */
  message: string | null;
}

export type DialplanSummary = Omit<DialplanVersion, 'source' | 'compiledJs' | 'sourceMap'>;

export interface NewDialplanVersion {
  tenantId: number;
  name: string;
  language: DialplanLanguage;
  source: string;
  compiledJs: string;
  sourceMap: string;
  author?: string | null;
  message?: string | null;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

type SummaryColumns = 'id' | 'tenant_id' | 'name' | 'version' | 'language' | 'author' | 'created_at' | 'message';

function toSummary(r: Pick<Selectable<DialplansTable>, SummaryColumns>): DialplanSummary {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    version: r.version,
    language: r.language as DialplanLanguage,
    author: r.author,
    createdAt: Number(r.created_at),
    message: r.message ?? null,
  };
}

function toVersion(r: Selectable<DialplansTable>): DialplanVersion {
  return { ...toSummary(r), source: r.source, compiledJs: r.compiled_js, sourceMap: r.source_map };
}

export class DialplansRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  /** Stores a new version (previous + 1); the newest version is the current one. */
  async save(input: NewDialplanVersion): Promise<DialplanVersion> {
    if (!NAME.test(input.name)) throw new ValidationError('name', `not a valid dialplan name: "${input.name}"`);
    if (input.language !== 'ts' && input.language !== 'js') throw new ValidationError('language', 'must be ts or js');
    // Two concurrent saves can pick the same number; the unique key rejects one and we retry.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await inTransaction(this.ctx.db, async (trx) => {
          const last = await trx
            .selectFrom('dialplans')
            .select((eb) => eb.fn.max('version').as('v'))
            .where('tenant_id', '=', input.tenantId)
            .where('name', '=', input.name)
            .executeTakeFirst();
          const values = {
            tenant_id: input.tenantId,
            name: input.name,
            version: Number(last?.v ?? 0) + 1,
            language: input.language,
            source: input.source,
            compiled_js: input.compiledJs,
            source_map: input.sourceMap,
            author: input.author?.slice(0, 255) ?? null,
            created_at: Date.now(),
            message: input.message?.slice(0, 512) ?? null,
          };
          const id = insertedId(await trx.insertInto('dialplans').values(values).executeTakeFirstOrThrow());
          return toVersion({ id, ...values });
        });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    }
    throw new Error(`could not save dialplan ${input.name}: version conflict`);
  }

  async getCurrent(tenantId: number, name: string): Promise<DialplanVersion | undefined> {
    const r = await this.ctx.db
      .selectFrom('dialplans')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toVersion(r) : undefined;
  }

  async getVersion(tenantId: number, name: string, version: number): Promise<DialplanVersion | undefined> {
    const r = await this.ctx.db
      .selectFrom('dialplans')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
    return r ? toVersion(r) : undefined;
  }

  async listVersions(tenantId: number, name: string): Promise<DialplanSummary[]> {
    const rows = await this.ctx.db
      .selectFrom('dialplans')
      .select(['id', 'tenant_id', 'name', 'version', 'language', 'author', 'created_at', 'message'])
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .orderBy('version', 'desc')
      .execute();
    return rows.map(toSummary);
  }

  /** The current version of each dialplan of a tenant, by name. */
  async list(tenantId: number): Promise<DialplanSummary[]> {
    const rows = await this.ctx.db
      .selectFrom('dialplans as d')
      .select(['d.id', 'd.tenant_id', 'd.name', 'd.version', 'd.language', 'd.author', 'd.created_at', 'd.message'])
      .where('d.tenant_id', '=', tenantId)
      .where('d.version', '=', (eb) =>
        eb
          .selectFrom('dialplans as d2')
          .select((eb2) => eb2.fn.max('d2.version').as('mv'))
          .whereRef('d2.tenant_id', '=', 'd.tenant_id')
          .whereRef('d2.name', '=', 'd.name'),
      )
      .orderBy('d.name')
      .execute();
    return rows.map(toSummary);
  }

  /** Removes every version of a dialplan. */
  async remove(tenantId: number, name: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('dialplans').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
