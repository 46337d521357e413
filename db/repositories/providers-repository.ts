import type { Selectable } from 'kysely';
import { DuplicateError, isUniqueViolation, NotFoundError, ValidationError } from '../errors.ts';
import type { ProvidersTable } from '../schema.ts';
import { decryptSecret, encryptSecret } from '../secrets.ts';
import { containsText, insertedId, parseJson, toBool, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';
import { isCidr } from './accounts-repository.ts';
import { isProtectedProviderHeader } from '../protected-provider-headers.ts';

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
  settings: ProviderSettings;
  createdAt: number;
}

/** How numbers are written in the Request-URI and From sent to the provider. */
export type ProviderNumberFormat = 'e164' | 'e164-no-plus' | 'national' | 'as-dialled';
export const PROVIDER_NUMBER_FORMATS: readonly ProviderNumberFormat[] = ['e164', 'e164-no-plus', 'national', 'as-dialled'];

/** Call settings of a provider (migration 0050); every field optional, defaults in the README. */
export interface ProviderSettings {
  /** Host of the From URI (default: the server URI's host). */
  fromHost?: string;
  /** Display name of the From when the call has none (fd= and caller ID win). */
  displayName?: string;
  /** Send P-Asserted-Identity (RFC 3325) with the From's identity. */
  assertIdentity?: boolean;
  /** Privacy header value (RFC 3323), e.g. `id` or `none`. */
  privacy?: string;
  numberFormat?: ProviderNumberFormat;
  /** Country calling code without `+` (e.g. `49`): turns national numbers into E.164. */
  countryCode?: string;
  /** National trunk prefix (default `0`). */
  nationalPrefix?: string;
  /** International call prefix (default `00`). */
  internationalPrefix?: string;
  /** OPTIONS ping interval (s) marking the provider down/up; 0 or absent = no pings. */
  pingIntervalSeconds?: number;
  /** Networks (CIDRs) its inbound calls may come from, besides the resolved hosts of its server and proxy. */
  sourceNetworks?: string[];
  /**
   * A server target that sends nothing back (not even 100 Trying) within this many ms is given
   * up and the next one tried (Kamailio fr_timer); absent = 5000, 0 = wait Timer B (32 s).
   */
  provisionalTimeoutMs?: number;
}

export function validateProviderSettings(settings: ProviderSettings): void {
  const host = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$/;
  if (settings.fromHost !== undefined && !host.test(settings.fromHost)) throw new ValidationError('fromHost', `not a host name: "${settings.fromHost}"`);
  if (settings.displayName !== undefined && (/[\r\n"\\]/.test(settings.displayName) || settings.displayName.length > 64)) {
    throw new ValidationError('displayName', 'at most 64 characters, no quotes or line breaks');
  }
  if (settings.privacy !== undefined && !/^(none|id|header|session|user|critical)(\s*;\s*(none|id|header|session|user|critical))*$/i.test(settings.privacy)) {
    throw new ValidationError('privacy', `expected RFC 3323 values (id, header, session, user, none, critical), got "${settings.privacy}"`);
  }
  if (settings.numberFormat !== undefined && !PROVIDER_NUMBER_FORMATS.includes(settings.numberFormat)) {
    throw new ValidationError('numberFormat', `expected ${PROVIDER_NUMBER_FORMATS.join('|')}, got "${settings.numberFormat}"`);
  }
  if (settings.countryCode !== undefined && !/^[1-9][0-9]{0,2}$/.test(settings.countryCode)) throw new ValidationError('countryCode', `expected 1-3 digits, got "${settings.countryCode}"`);
  if (settings.nationalPrefix !== undefined && !/^[0-9]{0,3}$/.test(settings.nationalPrefix)) throw new ValidationError('nationalPrefix', `expected up to 3 digits, got "${settings.nationalPrefix}"`);
  if (settings.pingIntervalSeconds !== undefined && (!Number.isInteger(settings.pingIntervalSeconds) || settings.pingIntervalSeconds < 0 || settings.pingIntervalSeconds > 3600)) {
    throw new ValidationError('pingIntervalSeconds', `expected 0..3600 seconds, got ${String(settings.pingIntervalSeconds)}`);
  }
  if (settings.provisionalTimeoutMs !== undefined && (!Number.isInteger(settings.provisionalTimeoutMs) || settings.provisionalTimeoutMs < 0 || settings.provisionalTimeoutMs > 32_000)) {
    throw new ValidationError('provisionalTimeoutMs', `expected 0..32000 ms, got ${String(settings.provisionalTimeoutMs)}`);
  }
  if (settings.sourceNetworks !== undefined) {
    if (!Array.isArray(settings.sourceNetworks) || settings.sourceNetworks.length > 100) throw new ValidationError('sourceNetworks', 'expected at most 100 CIDRs');
    for (const c of settings.sourceNetworks) if (typeof c !== 'string' || !isCidr(c)) throw new ValidationError('sourceNetworks', `not an IPv4 or IPv6 CIDR: "${String(c)}"`);
  }
  if (settings.internationalPrefix !== undefined && !/^[0-9]{1,4}$/.test(settings.internationalPrefix)) throw new ValidationError('internationalPrefix', `expected 1-4 digits, got "${settings.internationalPrefix}"`);
}

export function validateCustomHeaders(headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) {
    if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(k) || /[\r\n]/.test(v)) throw new ValidationError('customHeaders', `bad header "${k}"`);
    if (isProtectedProviderHeader(k)) throw new ValidationError('customHeaders', `header "${k}" is set by the switch and cannot be configured`);
  }
}

/** What `provider set` may change; undefined = unchanged, null = cleared. */
export interface ProviderUpdate {
  serverUri?: string;
  outboundProxy?: string | null;
  username?: string | null;
  authUser?: string | null;
  password?: string | null;
  register?: boolean;
  registerExpiry?: number;
  fromUser?: string | null;
  customHeaders?: Record<string, string>;
  settings?: ProviderSettings;
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
  settings?: ProviderSettings;
}

export type ProviderRegistrationState = 'unregistered' | 'registering' | 'registered' | 'failed' | 'needs-attention';

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
    settings: parseJson<ProviderSettings>(r.settings ?? null, {}),
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
    validateServerUri('server', input.serverUri);
    if (input.outboundProxy) validateServerUri('outboundProxy', input.outboundProxy);
    const expiry = input.registerExpiry ?? 3600;
    if (!Number.isInteger(expiry) || expiry < 30 || expiry > 86_400) throw new ValidationError('registerExpiry', 'must be 30..86400 seconds');
    validateCustomHeaders(input.customHeaders ?? {});
    validateProviderSettings(input.settings ?? {});
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
      settings: JSON.stringify(input.settings ?? {}),
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

  /** Changes what `patch` names; settings are merged: absent fields stay, a field given as undefined or "" is cleared. */
  async update(id: number, patch: ProviderUpdate): Promise<Provider> {
    const current = await this.get(id);
    if (!current) throw new NotFoundError('provider', String(id));
    const values: Record<string, string | number | null> = {};
    if (patch.serverUri !== undefined) {
      validateServerUri('server', patch.serverUri);
      values['server_uri'] = patch.serverUri;
    }
    if (patch.outboundProxy !== undefined) {
      if (patch.outboundProxy) validateServerUri('outboundProxy', patch.outboundProxy);
      values['outbound_proxy'] = patch.outboundProxy || null;
    }
    if (patch.username !== undefined) values['username'] = patch.username || null;
    if (patch.authUser !== undefined) values['auth_user'] = patch.authUser || null;
    if (patch.password !== undefined) values['password_enc'] = patch.password ? encryptSecret(this.key(), patch.password) : null;
    if (patch.register !== undefined) values['register'] = patch.register ? 1 : 0;
    if (patch.registerExpiry !== undefined) {
      if (!Number.isInteger(patch.registerExpiry) || patch.registerExpiry < 30 || patch.registerExpiry > 86_400) throw new ValidationError('registerExpiry', 'must be 30..86400 seconds');
      values['register_expiry'] = patch.registerExpiry;
    }
    if (patch.fromUser !== undefined) values['from_user'] = patch.fromUser || null;
    if (patch.customHeaders !== undefined) {
      validateCustomHeaders(patch.customHeaders);
      values['custom_headers'] = JSON.stringify(patch.customHeaders);
    }
    if (patch.settings !== undefined) {
      const merged = { ...current.settings, ...patch.settings };
      for (const [k, v] of Object.entries(merged)) if (v === undefined || v === '') delete (merged as Record<string, unknown>)[k];
      validateProviderSettings(merged);
      values['settings'] = JSON.stringify(merged);
    }
    if (Object.keys(values).length > 0) await this.ctx.db.updateTable('providers').set(values).where('id', '=', id).execute();
    return (await this.get(id))!;
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

  /** One page of a tenant's providers in name order (unique per tenant: the keyset), optionally filtered. */
  async listPage(opts: { tenantId: number; limit: number; afterName?: string; q?: string; register?: boolean }): Promise<Provider[]> {
    let sel = this.ctx.db.selectFrom('providers').selectAll().where('tenant_id', '=', opts.tenantId).orderBy('name').limit(opts.limit);
    if (opts.afterName !== undefined) sel = sel.where('name', '>', opts.afterName);
    if (opts.q !== undefined && opts.q !== '') sel = sel.where(containsText('name', opts.q));
    if (opts.register !== undefined) sel = sel.where('register', '=', opts.register ? 1 : 0);
    return (await sel.execute()).map(toProvider);
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

function validateServerUri(field: string, uri: string): void {
  if (!/^sips?:[^\s]+$/i.test(uri)) throw new ValidationError(field, `expected a sip: or sips: URI, got "${uri}"`);
}

export class ProviderRegistrationsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  /** `updatedAt` (default now) is when the state changed: a journal replay keeps that time. */
  async set(input: { providerId: number; state: ProviderRegistrationState; expiresAt?: number | null; lastError?: string | null; updatedAt?: number }): Promise<void> {
    const values = {
      provider_id: input.providerId,
      state: input.state,
      expires_at: input.expiresAt ?? null,
      last_error: input.lastError ?? null,
      updated_at: input.updatedAt ?? Date.now(),
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
