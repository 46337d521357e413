import type { Selectable } from 'kysely';
import type { RegistrarBindingsTable } from '../schema.ts';
import { parseJson, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';

/** A registrar binding as persisted; the registrar keeps the live copy in memory and writes behind. */
export interface StoredBinding {
  /** Chosen by the registrar (stable per AOR + contact / instance); at most 191 characters. */
  id: string;
  accountId: number;
  contactUri: string;
  sourceTransport: string;
  sourceAddress: string;
  sourcePort: number;
  connectionId: string | null;
  localListener: string | null;
  /** Epoch milliseconds. */
  expiresAt: number;
  q: number | null;
  callId: string;
  cseq: number;
  instanceId: string | null;
  regId: number | null;
  userAgent: string | null;
  path: string[];
  /** Whatever else the registrar wants restored (contact params, registeredAt, …); stored as JSON. */
  attributes?: Record<string, unknown>;
}

function toRow(b: StoredBinding): Selectable<RegistrarBindingsTable> {
  return {
    id: b.id,
    account_id: b.accountId,
    contact_uri: b.contactUri,
    source_transport: b.sourceTransport,
    source_address: b.sourceAddress,
    source_port: b.sourcePort,
    connection_id: b.connectionId,
    local_listener: b.localListener,
    expires_at: b.expiresAt,
    q: b.q,
    call_id: b.callId,
    cseq: b.cseq,
    instance_id: b.instanceId,
    reg_id: b.regId,
    user_agent: b.userAgent?.slice(0, 255) ?? null,
    path: JSON.stringify(b.path),
    attributes: JSON.stringify(b.attributes ?? {}),
  };
}

function fromRow(r: Selectable<RegistrarBindingsTable>): StoredBinding {
  return {
    id: r.id,
    accountId: r.account_id,
    contactUri: r.contact_uri,
    sourceTransport: r.source_transport,
    sourceAddress: r.source_address,
    sourcePort: r.source_port,
    connectionId: r.connection_id,
    localListener: r.local_listener,
    expiresAt: Number(r.expires_at),
    q: r.q === null ? null : Number(r.q),
    callId: r.call_id,
    cseq: Number(r.cseq),
    instanceId: r.instance_id,
    regId: r.reg_id,
    userAgent: r.user_agent,
    path: parseJson<string[]>(r.path, []),
    attributes: parseJson<Record<string, unknown>>(r.attributes, {}),
  };
}

const CHUNK = 200;

export class BindingsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  /** Inserts or replaces bindings by id in one transaction (one batch of the registrar's write-behind). */
  async upsertMany(bindings: readonly StoredBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    await inTransaction(this.ctx.db, async (trx) => {
      for (let i = 0; i < bindings.length; i += CHUNK) {
        const chunk = bindings.slice(i, i + CHUNK);
        await trx.deleteFrom('registrar_bindings').where('id', 'in', chunk.map((b) => b.id)).execute();
        await trx.insertInto('registrar_bindings').values(chunk.map(toRow)).execute();
      }
    });
  }

  async removeMany(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await inTransaction(this.ctx.db, async (trx) => {
      for (let i = 0; i < ids.length; i += CHUNK) {
        await trx.deleteFrom('registrar_bindings').where('id', 'in', ids.slice(i, i + CHUNK)).execute();
      }
    });
  }

  async listForAccount(accountId: number): Promise<StoredBinding[]> {
    return (await this.ctx.db.selectFrom('registrar_bindings').selectAll().where('account_id', '=', accountId).orderBy('id').execute()).map(fromRow);
  }

  async loadAll(): Promise<StoredBinding[]> {
    return (await this.ctx.db.selectFrom('registrar_bindings').selectAll().orderBy('id').execute()).map(fromRow);
  }

  /** Deletes bindings that expired before `now` (epoch ms); returns how many. */
  async removeExpired(now: number): Promise<number> {
    const r = await this.ctx.db.deleteFrom('registrar_bindings').where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
