import type { Selectable } from 'kysely';
import { DuplicateError, isUniqueViolation, ValidationError } from '../errors.ts';
import type { UsersTable } from '../schema.ts';
import { WEB_PASSWORD_SCRYPT, type WebPasswordScrypt, burnWebPasswordCheck, decryptSecret, encryptSecret, hashWebPassword, sha256Hex, verifyWebPassword, webPasswordNeedsRehash } from '../secrets.ts';
import { insertedId, toBool, type RepositoryContext } from './context.ts';
import { inTransaction } from './context.ts';

export type WebRole = 'operator' | 'admin' | 'receptionist' | 'member';
export const WEB_ROLES: readonly WebRole[] = ['operator', 'admin', 'receptionist', 'member'];

export interface WebUser {
  id: number;
  email: string;
  role: WebRole;
  /** null for operators, who run the whole service rather than one tenant. */
  tenantId: number | null;
  disabled: boolean;
  createdAt: number;
  /** TOTP 2FA enrolled and confirmed: a code (or a recovery code) is required at login. */
  totpEnabled: boolean;
}

export interface NewWebUser {
  email: string;
  password: string;
  role: WebRole;
  tenantId: number | null;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;

export interface WebUserPatch {
  role?: WebRole;
  disabled?: boolean;
  tenantId?: number | null;
}

type UserRow = Omit<Selectable<UsersTable>, 'totp_secret_enc' | 'totp_enabled'> & { totp_enabled?: number | null };

export function toWebUser(r: UserRow): WebUser {
  return {
    id: r.id,
    email: r.email,
    role: r.role as WebRole,
    tenantId: r.tenant_id,
    disabled: toBool(r.disabled),
    createdAt: Number(r.created_at),
    totpEnabled: toBool(r.totp_enabled),
  };
}

const totpAad = (userId: number) => `users.totp_secret_enc:${userId}`;

export class UsersRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  private get scrypt(): WebPasswordScrypt {
    return this.ctx.webPasswordScrypt ?? WEB_PASSWORD_SCRYPT;
  }

  async add(input: NewWebUser): Promise<WebUser> {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL.test(email)) throw new ValidationError('email', `not an e-mail address: "${input.email}"`);
    if (!WEB_ROLES.includes(input.role)) throw new ValidationError('role', `must be one of ${WEB_ROLES.join('|')}`);
    if (input.role !== 'operator' && input.tenantId == null) throw new ValidationError('tenant', `a ${input.role} belongs to a tenant`);
    if (!input.password || input.password.length < 8) throw new ValidationError('password', 'must be at least 8 characters');
    const values = {
      email,
      role: input.role,
      tenant_id: input.role === 'operator' ? null : input.tenantId,
      password_hash: await hashWebPassword(input.password, this.scrypt),
      disabled: 0,
      created_at: Date.now(),
    };
    try {
      const id = await inTransaction(this.ctx.db, async (trx) => {
        const existing = await trx.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
        if (existing) throw new DuplicateError('user', email);
        return insertedId(await trx.insertInto('users').values(values).executeTakeFirstOrThrow());
      });
      return toWebUser({ id, ...values, totp_enabled: 0 });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('user', email);
      throw err;
    }
  }

  async findByEmail(email: string): Promise<WebUser | undefined> {
    const r = await this.ctx.db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
    return r ? toWebUser(r) : undefined;
  }

  async get(id: number): Promise<WebUser | undefined> {
    const r = await this.ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toWebUser(r) : undefined;
  }

  /**
   * The user if the e-mail/password pair is right and the user is enabled. Unknown and disabled
   * e-mails cost the same scrypt work (no timing oracle); a hash made with older parameters is
   * replaced by one with today's after a good password.
   */
  async verifyPassword(email: string, password: string): Promise<WebUser | undefined> {
    const r = await this.ctx.db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
    if (!r || toBool(r.disabled)) return burnWebPasswordCheck(password, this.scrypt).then(() => undefined);
    if (!(await verifyWebPassword(password, r.password_hash))) return undefined;
    if (webPasswordNeedsRehash(r.password_hash, this.scrypt)) {
      await this.ctx.db.updateTable('users').set({ password_hash: await hashWebPassword(password, this.scrypt) }).where('id', '=', r.id).execute();
    }
    return toWebUser(r);
  }

  async update(id: number, patch: WebUserPatch): Promise<WebUser | undefined> {
    if (patch.role !== undefined && !WEB_ROLES.includes(patch.role)) throw new ValidationError('role', `must be one of ${WEB_ROLES.join('|')}`);
    const set = {
      ...(patch.role !== undefined && { role: patch.role }),
      ...(patch.disabled !== undefined && { disabled: patch.disabled ? 1 : 0 }),
      ...(patch.tenantId !== undefined && { tenant_id: patch.tenantId }),
    };
    if (Object.keys(set).length > 0) await this.ctx.db.updateTable('users').set(set).where('id', '=', id).execute();
    return this.get(id);
  }

  /** Keyset page by id; `tenantId` undefined lists every user (operators). */
  async listPage(opts: { tenantId?: number; afterId?: number; limit: number }): Promise<WebUser[]> {
    let q = this.ctx.db.selectFrom('users').selectAll().orderBy('id').limit(opts.limit);
    if (opts.tenantId !== undefined) q = q.where('tenant_id', '=', opts.tenantId);
    if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
    return (await q.execute()).map(toWebUser);
  }

  private requireKey(): Buffer {
    if (!this.ctx.secretKey) throw new Error('TOTP secrets need the database opened with the secret key');
    return this.ctx.secretKey;
  }

  /** Stores a TOTP secret (base32), sealed; `enabled` false while the user has not confirmed a code. */
  async setTotpSecret(id: number, secretBase32: string | null, enabled: boolean): Promise<void> {
    const enc = secretBase32 === null ? null : encryptSecret(this.requireKey(), secretBase32, totpAad(id));
    await this.ctx.db.updateTable('users').set({ totp_secret_enc: enc, totp_enabled: enabled && enc !== null ? 1 : 0 }).where('id', '=', id).execute();
  }

  async totpSecret(id: number): Promise<{ secretBase32: string; enabled: boolean } | undefined> {
    const r = await this.ctx.db.selectFrom('users').select(['totp_secret_enc', 'totp_enabled']).where('id', '=', id).executeTakeFirst();
    if (!r?.totp_secret_enc) return undefined;
    return { secretBase32: decryptSecret(this.requireKey(), r.totp_secret_enc, totpAad(id)), enabled: toBool(r.totp_enabled) };
  }

  /** Replaces the user's recovery codes; only their SHA-256 is stored. */
  async replaceRecoveryCodes(id: number, codes: readonly string[]): Promise<void> {
    await inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('user_recovery_codes').where('user_id', '=', id).execute();
      if (codes.length > 0) {
        await trx.insertInto('user_recovery_codes').values(codes.map((c) => ({ user_id: id, code_hash: sha256Hex(c), used_at: null }))).execute();
      }
    });
  }

  /** Spends a recovery code: true once per code. */
  async useRecoveryCode(id: number, code: string): Promise<boolean> {
    const r = await this.ctx.db
      .updateTable('user_recovery_codes')
      .set({ used_at: Date.now() })
      .where('user_id', '=', id)
      .where('code_hash', '=', sha256Hex(code.trim()))
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async unusedRecoveryCodes(id: number): Promise<number> {
    const r = await this.ctx.db
      .selectFrom('user_recovery_codes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async setPassword(id: number, password: string): Promise<void> {
    if (!password || password.length < 8) throw new ValidationError('password', 'must be at least 8 characters');
    await this.ctx.db.updateTable('users').set({ password_hash: await hashWebPassword(password, this.scrypt) }).where('id', '=', id).execute();
  }

  async list(tenantId?: number): Promise<WebUser[]> {
    let q = this.ctx.db.selectFrom('users').selectAll().orderBy('email');
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    return (await q.execute()).map(toWebUser);
  }

  async remove(id: number): Promise<boolean> {
    return inTransaction(this.ctx.db, async (trx) => {
      await trx.deleteFrom('api_tokens').where('user_id', '=', id).execute();
      await trx.deleteFrom('web_sessions').where('user_id', '=', id).execute();
      await trx.deleteFrom('user_recovery_codes').where('user_id', '=', id).execute();
      // An id can come back (MariaDB may reuse AUTO_INCREMENT values after a restart): a later
      // user must not inherit this one's accounts.
      await trx.updateTable('sip_accounts').set({ owner_user_id: null }).where('owner_user_id', '=', id).execute();
      const r = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }
}
