import type { Selectable } from 'kysely';
import { DuplicateError, isUniqueViolation, NotFoundError, ValidationError } from '../errors.ts';
import type { ProvidersTable } from '../schema.ts';
import { decryptSecret, encryptSecret } from '../secrets.ts';
import { insertedId, parseJson, toBool, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';

export interface Provider {
  id: number;
  tenantId: number;
  name: string;
  serverUri: string;
  outboundProxy: string | null;
  username: string | null;
  authUser: string | null;
  hasPassword: boolean;
  register: boolean;
  registerExpiry: number;
  fromUser: string | null;
  customHeaders: Record<string, string>;
  createdAt: number;
}

export interface NewProvider {
  tenantId: number;
  name: string;
  serverUri: string;
  outboundProxy?: string | null;
  username?: string | null;
  authUser?: string | null;
  /** Encrypted with AES-256-GCM under the configured secret key before it is stored. */
  password?: string | null;
  register?: boolean;
  registerExpiry?: number;
  fromUser?: string | null;
  customHeaders?: Record<string, string>;
}

export type ProviderRegistrationState = 'unregistered' | 'registering' | 'registered' | 'failed';

export interface ProviderRegistration {
  providerId: number;
  state: ProviderRegistrationState;
  expiresAt: number | null;
  lastError: string | null;
  updatedAt: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function toProvider(r: Selectable<ProvidersTable>): Provider {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    serverUri: r.server_uri,
    outboundProxy: r.outbound_proxy,
    username: r.username,
    authUser: r.auth_user,
    hasPassword: r.password_enc !== null,
    register: toBool(r.register),
    registerExpiry: r.register_expiry,
    fromUser: r.from_user,
    customHeaders: parseJson<Record<string, string>>(r.custom_headers, {}),
    createdAt: Number(r.created_at),
  };
}

export class ProvidersRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  private key(): Buffer {
    if (!this.ctx.secretKey) throw new Error('openDatabase was called without a secretKey; provider passwords need one');
    return this.ctx.secretKey;
  }

  async add(input: NewProvider): Promise<Provider> {
    if (!NAME.test(input.name)) throw new ValidationError('name', `not a valid provider name: "${input.name}"`);
    if (!/^sips?:[^\s]+$/i.test(input.serverUri)) throw new ValidationError('server', `expected a sip: or sips: URI, got "${input.serverUri}"`);
    const expiry = input.registerExpiry ?? 3600;
    if (!Number.isInteger(expiry) || expiry < 30 || expiry > 86_400) throw new ValidationError('registerExpiry', 'must be 30..86400 seconds');
    for (const [k, v] of Object.entries(input.customHeaders ?? {})) {
      if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(k) || /[\r\n]/.test(v)) throw new ValidationError('customHeaders', `bad header "${k}"`);
    }
    const values = {
      tenant_id: input.tenantId,
      name: input.name,
      server_uri: input.serverUri,
      outbound_proxy: input.outboundProxy ?? null,
      username: input.username ?? null,
      auth_user: input.authUser ?? null,
      password_enc: input.password ? encryptSecret(this.key(), input.password) : null,
      register: input.register ? 1 : 0,
      register_expiry: expiry,
      from_user: input.fromUser ?? null,
      custom_headers: JSON.stringify(input.customHeaders ?? {}),
      created_at: Date.now(),
    };
    try {
      const id = await inTransaction(this.ctx.db, async (trx) => {
        const existing = await trx
          .selectFrom('providers')
          .select('id')
          .where('tenant_id', '=', input.tenantId)
          .where('name', '=', input.name)
          .executeTakeFirst();
        if (existing) throw new DuplicateError('provider', input.name);
        return insertedId(await trx.insertInto('providers').values(values).executeTakeFirstOrThrow());
      });
      return toProvider({ id, ...values });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('provider', input.name);
      throw err;
    }
  }

  async findByName(tenantId: number, name: string): Promise<Provider | undefined> {
    const r = await this.ctx.db.selectFrom('providers').selectAll().where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    return r ? toProvider(r) : undefined;
  }

  async get(id: number): Promise<Provider | undefined> {
    const r = await this.ctx.db.selectFrom('providers').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toProvider(r) : undefined;
  }

  async list(tenantId: number): Promise<Provider[]> {
    return (await this.ctx.db.selectFrom('providers').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute()).map(toProvider);
  }

  async listAll(): Promise<Provider[]> {
    return (await this.ctx.db.selectFrom('providers').selectAll().orderBy('id').execute()).map(toProvider);
  }

  /** The clear provider password (needed to answer the provider's digest challenge). */
  async revealPassword(providerId: number): Promise<string | undefined> {
    const r = await this.ctx.db.selectFrom('providers').select('password_enc').where('id', '=', providerId).executeTakeFirst();
    if (!r) throw new NotFoundError('provider', String(providerId));
    return r.password_enc === null ? undefined : decryptSecret(this.key(), r.password_enc);
  }

  async remove(id: number): Promise<boolean> {
    return inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('provider_registrations').where('provider_id', '=', id).execute();
      const r = await trx.deleteFrom('providers').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }
}

export class ProviderRegistrationsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async set(input: { providerId: number; state: ProviderRegistrationState; expiresAt?: number | null; lastError?: string | null }): Promise<void> {
    const values = {
      provider_id: input.providerId,
      state: input.state,
      expires_at: input.expiresAt ?? null,
      last_error: input.lastError ?? null,
      updated_at: Date.now(),
    };
    await inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('provider_registrations').where('provider_id', '=', input.providerId).execute();
      await trx.insertInto('provider_registrations').values(values).execute();
    });
  }

  async get(providerId: number): Promise<ProviderRegistration | undefined> {
    const r = await this.ctx.db.selectFrom('provider_registrations').selectAll().where('provider_id', '=', providerId).executeTakeFirst();
    return r ? toRegistration(r) : undefined;
  }

  async list(): Promise<ProviderRegistration[]> {
    return (await this.ctx.db.selectFrom('provider_registrations').selectAll().orderBy('provider_id').execute()).map(toRegistration);
  }
}

function toRegistration(r: { provider_id: number; state: string; expires_at: number | null; last_error: string | null; updated_at: number }): ProviderRegistration {
  return {
    providerId: r.provider_id,
    state: r.state as ProviderRegistrationState,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    lastError: r.last_error,
    updatedAt: Number(r.updated_at),
  };
}
