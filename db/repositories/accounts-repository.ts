import { isIPv4, isIPv6 } from 'node:net';
import type { Selectable } from 'kysely';
import { DuplicateError, isUniqueViolation, NotFoundError, ValidationError } from '../errors.ts';
import type { SipAccountsTable } from '../schema.ts';
import { digestHa1, isSealedSecret } from '../secrets.ts';
import { fromBool, insertedId, normalizeDomain, toBool, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';
import { Ha1UnreadableError, openHa1, sealHa1, type Ha1Column, type Ha1RowKey } from './ha1-sealing.ts';
import type { TenantsRepository } from './tenants-repository.ts';

/** How NAT keep-alives reach an account's UDP bindings: a CRLF ping (RFC 5626 §4.4.1) or an OPTIONS request. */
export type AccountKeepaliveMethod = 'crlf' | 'options';
export const KEEPALIVE_METHODS: readonly AccountKeepaliveMethod[] = ['crlf', 'options'];

export interface SipAccount {
  id: number;
  tenantId: number;
  /** The tenant's primary domain; it is also the digest realm the HA1s were computed with. */
  domain: string;
  username: string;
  ha1Md5: string;
  ha1Sha256: string;
  outDialplan: string | null;
  inDialplan: string | null;
  incomingOnly: boolean;
  disabled: boolean;
  natKeepalive: boolean;
  keepaliveMethod: AccountKeepaliveMethod;
  allowedCidrs: string[];
  /** Trust `allowedCidrs` alone over UDP too (spoofable: for a PBX trunk on a network you control). */
  trustUdpSource: boolean;
  callerId: string | null;
  maxCalls: number | null;
  createdAt: number;
  updatedAt: number;
  /** The web user (member) this account belongs to, if any. */
  ownerUserId?: number | null;
  /** The name shown for this account in the web app and the switchboard. */
  displayName?: string | null;
  /** Do-not-disturb: calls to the account fail its leg with 486. */
  dnd?: boolean;
}

export interface SipAccountSettings {
  outDialplan?: string | null;
  inDialplan?: string | null;
  incomingOnly?: boolean;
  disabled?: boolean;
  natKeepalive?: boolean;
  keepaliveMethod?: AccountKeepaliveMethod;
  allowedCidrs?: string[];
  trustUdpSource?: boolean;
  callerId?: string | null;
  maxCalls?: number | null;
  ownerUserId?: number | null;
  displayName?: string | null;
  dnd?: boolean;
}

export interface NewSipAccount extends SipAccountSettings {
  username: string;
  /** Tenant domain or alias. */
  domain: string;
  /** Used only to compute the HA1s; never stored. */
  password: string;
}

const USERNAME = /^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,128}$/;
const DIALPLAN_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function validateUsername(username: string): string {
  if (!USERNAME.test(username)) throw new ValidationError('username', `not a valid SIP user name: "${username}"`);
  return username;
}

function validateSettings(s: SipAccountSettings): void {
  for (const [field, v] of [['outDialplan', s.outDialplan], ['inDialplan', s.inDialplan]] as const) {
    if (v != null && !DIALPLAN_NAME.test(v)) throw new ValidationError(field, `not a valid dialplan name: "${v}"`);
  }
  if (s.maxCalls != null && (!Number.isInteger(s.maxCalls) || s.maxCalls < 0)) {
    throw new ValidationError('maxCalls', 'must be a non-negative integer');
  }
  if (s.keepaliveMethod !== undefined && !KEEPALIVE_METHODS.includes(s.keepaliveMethod)) {
    throw new ValidationError('keepaliveMethod', `must be one of ${KEEPALIVE_METHODS.join('|')}, got "${String(s.keepaliveMethod)}"`);
  }
  if (s.allowedCidrs !== undefined) {
    if (!Array.isArray(s.allowedCidrs)) throw new ValidationError('allowedCidrs', 'must be a list of CIDRs');
    for (const cidr of s.allowedCidrs) {
      if (typeof cidr !== 'string' || !isCidr(cidr)) throw new ValidationError('allowedCidrs', `not an IPv4 or IPv6 CIDR: "${String(cidr)}"`);
    }
  }
  if (s.dnd !== undefined && typeof s.dnd !== 'boolean') throw new ValidationError('dnd', 'must be true or false');
  if (s.displayName != null && (typeof s.displayName !== 'string' || s.displayName.length > 255 || /[\r\n\0]/.test(s.displayName))) {
    throw new ValidationError('displayName', 'must be at most 255 characters on one line');
  }
  if (s.callerId != null) {
    // It ends up inside a From header: a line break would inject headers.
    if (typeof s.callerId !== 'string' || s.callerId.length > 255 || /[\r\n\0]/.test(s.callerId)) {
      throw new ValidationError('callerId', 'must be at most 255 characters on one line');
    }
  }
}

/** "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128). */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : 0;
  if (max === 0) return false;
  if (slash < 0) return true;
  const prefix = text.slice(slash + 1);
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= max;
}

function validatePassword(password: string): void {
  if (typeof password !== 'string' || password.length < 1) throw new ValidationError('password', 'must not be empty');
}

/**
 * Puts the HA1s of a row on `account` as callers use them: decrypted with the key; without a key
 * (tools and tests that open the database bare) clear values as stored, and sealed ones only as
 * an error on access (never the ciphertext, which someone reading the table could otherwise use
 * as the HA1). A getter rather than a value, because an account read bare for its other fields
 * must still work.
 */
function attachHa1s(account: SipAccount, key: Buffer | undefined, row: AccountRow): SipAccount {
  const rowKey: Ha1RowKey = { tenantId: row.tenant_id, username: row.username };
  const name = `${row.username}@${account.domain}`;
  for (const [field, column] of [['ha1Md5', 'ha1_md5'], ['ha1Sha256', 'ha1_sha256']] as const) {
    const stored = row[column];
    if (key) account[field] = openHa1(key, rowKey, column, stored, name);
    else if (!isSealedSecret(stored)) account[field] = stored;
    else {
      Object.defineProperty(account, field, {
        enumerable: true,
        get: () => {
          throw new Ha1UnreadableError(name, 'it is encrypted and the database was opened without the secret key');
        },
      });
    }
  }
  return account;
}

type AccountRow = Omit<Selectable<SipAccountsTable>, 'owner_user_id' | 'display_name' | 'dnd'> & { owner_user_id?: number | null; display_name?: string | null; dnd?: number | null };

function toAccount(row: AccountRow, domain: string, key: Buffer | undefined): SipAccount {
  const account: SipAccount = {
    id: row.id,
    tenantId: row.tenant_id,
    domain,
    username: row.username,
    ha1Md5: '',
    ha1Sha256: '',
    outDialplan: row.out_dialplan,
    inDialplan: row.in_dialplan,
    incomingOnly: toBool(row.incoming_only),
    disabled: toBool(row.disabled),
    natKeepalive: toBool(row.nat_keepalive),
    keepaliveMethod: row.keepalive_method === 'options' ? 'options' : 'crlf',
    allowedCidrs: JSON.parse(row.allowed_cidrs) as string[],
    trustUdpSource: toBool(row.trust_udp_source),
    callerId: row.caller_id,
    maxCalls: row.max_calls,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    ownerUserId: row.owner_user_id ?? null,
    displayName: row.display_name ?? null,
    dnd: toBool(row.dnd),
  };
  return attachHa1s(account, key, row);
}

export class AccountsRepository {
  constructor(
    private readonly ctx: RepositoryContext,
    private readonly tenants: TenantsRepository,
  ) {}

  /** The HA1 columns to write: sealed under the secret key (in clear only for a database opened without one). */
  private storedHa1s(row: Ha1RowKey, realm: string, password: string): Record<Ha1Column, string> {
    const md5 = digestHa1('MD5', row.username, realm, password);
    const sha256 = digestHa1('SHA-256', row.username, realm, password);
    const key = this.ctx.secretKey;
    if (!key) return { ha1_md5: md5, ha1_sha256: sha256 };
    return { ha1_md5: sealHa1(key, row, 'ha1_md5', md5), ha1_sha256: sealHa1(key, row, 'ha1_sha256', sha256) };
  }

  async add(input: NewSipAccount): Promise<SipAccount> {
    const username = validateUsername(input.username);
    validatePassword(input.password);
    validateSettings(input);
    const tenant = await this.tenants.requireByDomain(input.domain);
    const now = Date.now();
    const values = {
      tenant_id: tenant.id,
      username,
      ...this.storedHa1s({ tenantId: tenant.id, username }, tenant.domain, input.password),
      out_dialplan: input.outDialplan ?? null,
      in_dialplan: input.inDialplan ?? null,
      incoming_only: fromBool(input.incomingOnly, false),
      disabled: fromBool(input.disabled, false),
      nat_keepalive: fromBool(input.natKeepalive, true),
      keepalive_method: input.keepaliveMethod ?? 'crlf',
      allowed_cidrs: JSON.stringify(input.allowedCidrs ?? []),
      trust_udp_source: fromBool(input.trustUdpSource, false),
      caller_id: input.callerId ?? null,
      max_calls: input.maxCalls ?? null,
      owner_user_id: input.ownerUserId ?? null,
      display_name: input.displayName ?? null,
      dnd: fromBool(input.dnd, false),
      created_at: now,
      updated_at: now,
    };
    const key = `${username}@${tenant.domain}`;
    try {
      const id = await inTransaction(this.ctx.db, async (trx) => {
        const existing = await trx
          .selectFrom('sip_accounts')
          .select('id')
          .where('tenant_id', '=', tenant.id)
          .where('username', '=', username)
          .executeTakeFirst();
        if (existing) throw new DuplicateError('account', key);
        return insertedId(await trx.insertInto('sip_accounts').values(values).executeTakeFirstOrThrow());
      });
      return toAccount({ id, ...values }, tenant.domain, this.ctx.secretKey);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('account', key);
      throw err;
    }
  }

  /** The account with its HA1s for digest authentication; undefined if tenant or account is unknown. */
  async findForAuth(username: string, domain: string): Promise<SipAccount | undefined> {
    const tenant = await this.tenants.findByDomain(domain);
    if (!tenant) return undefined;
    const row = await this.ctx.db
      .selectFrom('sip_accounts')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? toAccount(row, tenant.domain, this.ctx.secretKey) : undefined;
  }

  async get(id: number): Promise<SipAccount | undefined> {
    const row = await this.ctx.db
      .selectFrom('sip_accounts')
      .innerJoin('tenants', 'tenants.id', 'sip_accounts.tenant_id')
      .selectAll('sip_accounts')
      .select('tenants.domain as tenant_domain')
      .where('sip_accounts.id', '=', id)
      .executeTakeFirst();
    return row ? toAccount(row, row.tenant_domain, this.ctx.secretKey) : undefined;
  }

  private async require(username: string, domain: string): Promise<SipAccount> {
    const a = await this.findForAuth(username, domain);
    if (!a) throw new NotFoundError('account', `${username}@${normalizeDomain(domain)}`);
    return a;
  }

  async setPassword(username: string, domain: string, password: string): Promise<void> {
    validatePassword(password);
    const a = await this.require(username, domain);
    await this.ctx.db
      .updateTable('sip_accounts')
      .set({ ...this.storedHa1s({ tenantId: a.tenantId, username: a.username }, a.domain, password), updated_at: Date.now() })
      .where('id', '=', a.id)
      .execute();
  }

  async update(username: string, domain: string, patch: SipAccountSettings): Promise<SipAccount> {
    validateSettings(patch);
    const a = await this.require(username, domain);
    await this.ctx.db
      .updateTable('sip_accounts')
      .set({
        ...(patch.outDialplan !== undefined && { out_dialplan: patch.outDialplan }),
        ...(patch.inDialplan !== undefined && { in_dialplan: patch.inDialplan }),
        ...(patch.incomingOnly !== undefined && { incoming_only: fromBool(patch.incomingOnly, false) }),
        ...(patch.disabled !== undefined && { disabled: fromBool(patch.disabled, false) }),
        ...(patch.natKeepalive !== undefined && { nat_keepalive: fromBool(patch.natKeepalive, true) }),
        ...(patch.keepaliveMethod !== undefined && { keepalive_method: patch.keepaliveMethod }),
        ...(patch.allowedCidrs !== undefined && { allowed_cidrs: JSON.stringify(patch.allowedCidrs) }),
        ...(patch.trustUdpSource !== undefined && { trust_udp_source: fromBool(patch.trustUdpSource, false) }),
        ...(patch.callerId !== undefined && { caller_id: patch.callerId }),
        ...(patch.maxCalls !== undefined && { max_calls: patch.maxCalls }),
        ...(patch.ownerUserId !== undefined && { owner_user_id: patch.ownerUserId }),
        ...(patch.displayName !== undefined && { display_name: patch.displayName }),
        ...(patch.dnd !== undefined && { dnd: fromBool(patch.dnd, false) }),
        updated_at: Date.now(),
      })
      .where('id', '=', a.id)
      .execute();
    return (await this.get(a.id))!;
  }

  /** Removes the account and its registrar bindings; false if it did not exist. */
  async remove(username: string, domain: string): Promise<boolean> {
    const a = await this.findForAuth(username, domain);
    if (!a) return false;
    await inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('registrar_bindings').where('account_id', '=', a.id).execute();
      await trx.deleteFrom('sip_accounts').where('id', '=', a.id).execute();
    });
    return true;
  }

  async listByDomain(domain: string): Promise<SipAccount[]> {
    const tenant = await this.tenants.requireByDomain(domain);
    const rows = await this.ctx.db
      .selectFrom('sip_accounts')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .orderBy('username')
      .execute();
    return rows.map((r) => toAccount(r, tenant.domain, this.ctx.secretKey));
  }

  /** Keyset page by id within a tenant; `ownerUserId` narrows to a member's own accounts. */
  async listPage(opts: { tenantId: number; ownerUserId?: number; afterId?: number; limit: number; username?: string }): Promise<SipAccount[]> {
    let q = this.ctx.db
      .selectFrom('sip_accounts')
      .innerJoin('tenants', 'tenants.id', 'sip_accounts.tenant_id')
      .selectAll('sip_accounts')
      .select('tenants.domain as tenant_domain')
      .where('sip_accounts.tenant_id', '=', opts.tenantId)
      .orderBy('sip_accounts.id')
      .limit(opts.limit);
    if (opts.ownerUserId !== undefined) q = q.where('sip_accounts.owner_user_id', '=', opts.ownerUserId);
    if (opts.afterId !== undefined) q = q.where('sip_accounts.id', '>', opts.afterId);
    if (opts.username !== undefined) q = q.where('sip_accounts.username', '=', opts.username);
    return (await q.execute()).map((r) => toAccount(r, r.tenant_domain, this.ctx.secretKey));
  }

  /** Names of the dialplans the given accounts use (in or out), for a member's dialplan scope. */
  async dialplansOfOwner(tenantId: number, ownerUserId: number): Promise<string[]> {
    const rows = await this.ctx.db
      .selectFrom('sip_accounts')
      .select(['in_dialplan', 'out_dialplan'])
      .where('tenant_id', '=', tenantId)
      .where('owner_user_id', '=', ownerUserId)
      .execute();
    const names = new Set<string>();
    for (const r of rows) for (const n of [r.in_dialplan, r.out_dialplan]) if (n) names.add(n);
    return [...names].sort();
  }

  /** Every account of every tenant, for the in-memory account cache of the SIP services. */
  async listAll(): Promise<SipAccount[]> {
    const rows = await this.ctx.db
      .selectFrom('sip_accounts')
      .innerJoin('tenants', 'tenants.id', 'sip_accounts.tenant_id')
      .selectAll('sip_accounts')
      .select('tenants.domain as tenant_domain')
      .orderBy('sip_accounts.id')
      .execute();
    return rows.map((r) => toAccount(r, r.tenant_domain, this.ctx.secretKey));
  }
}
