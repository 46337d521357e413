import type { Selectable } from 'kysely';
import { DuplicateError, isUniqueViolation, ValidationError } from '../errors.ts';
import type { UsersTable } from '../schema.ts';
import { hashWebPassword, verifyWebPassword } from '../secrets.ts';
import { insertedId, toBool, type RepositoryContext } from './context.ts';

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
}

export interface NewWebUser {
  email: string;
  password: string;
  role: WebRole;
  tenantId: number | null;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;

export function toWebUser(r: Selectable<UsersTable>): WebUser {
  return {
    id: r.id,
    email: r.email,
    role: r.role as WebRole,
    tenantId: r.tenant_id,
    disabled: toBool(r.disabled),
    createdAt: Number(r.created_at),
  };
}

export class UsersRepository {
  constructor(private readonly ctx: RepositoryContext) {}

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
      password_hash: await hashWebPassword(input.password),
      disabled: 0,
      created_at: Date.now(),
    };
    try {
      const id = await this.ctx.db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
        if (existing) throw new DuplicateError('user', email);
        return insertedId(await trx.insertInto('users').values(values).executeTakeFirstOrThrow());
      });
      return toWebUser({ id, ...values });
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

  /** The user if the e-mail/password pair is right and the user is enabled. */
  async verifyPassword(email: string, password: string): Promise<WebUser | undefined> {
    const r = await this.ctx.db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
    if (!r || toBool(r.disabled)) return undefined;
    return (await verifyWebPassword(password, r.password_hash)) ? toWebUser(r) : undefined;
  }

  async setPassword(id: number, password: string): Promise<void> {
    if (!password || password.length < 8) throw new ValidationError('password', 'must be at least 8 characters');
    await this.ctx.db.updateTable('users').set({ password_hash: await hashWebPassword(password) }).where('id', '=', id).execute();
  }

  async list(tenantId?: number): Promise<WebUser[]> {
    let q = this.ctx.db.selectFrom('users').selectAll().orderBy('email');
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    return (await q.execute()).map(toWebUser);
  }

  async remove(id: number): Promise<boolean> {
    return this.ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('api_tokens').where('user_id', '=', id).execute();
      const r = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }
}
