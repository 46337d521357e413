import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { WebSessionsTable } from '../schema.ts';
import { sha256Hex } from '../secrets.ts';
import { insertedId, toBool, type RepositoryContext } from './context.ts';
import { toWebUser, type WebUser } from './users-repository.ts';

/** A browser session as its owner may see it (never the cookie token). */
export interface WebSessionInfo {
  id: number;
  userId: number;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  sourceAddress: string | null;
  userAgent: string | null;
}

export interface SessionTimeouts {
  /** Absolute lifetime from login, ms. */
  maxAgeMs: number;
  /** A session unused this long is dead, ms. */
  idleMs: number;
}

function toInfo(r: Selectable<WebSessionsTable>): WebSessionInfo {
  return {
    id: r.id,
    userId: r.user_id,
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
    expiresAt: Number(r.expires_at),
    sourceAddress: r.source_address,
    userAgent: r.user_agent,
  };
}

/** Touching a session at most this often spares a write per request. */
const TOUCH_EVERY_MS = 30_000;

/** Server-side browser sessions: the cookie carries a random token, the row only its SHA-256. */
export class SessionsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async create(input: { userId: number; maxAgeMs: number; sourceAddress?: string | null; userAgent?: string | null }): Promise<{ id: number; token: string; csrfToken: string }> {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const now = Date.now();
    const id = insertedId(
      await this.ctx.db
        .insertInto('web_sessions')
        .values({
          user_id: input.userId,
          token_hash: sha256Hex(token),
          csrf_token: csrfToken,
          created_at: now,
          last_seen_at: now,
          expires_at: now + input.maxAgeMs,
          source_address: input.sourceAddress?.slice(0, 64) ?? null,
          user_agent: input.userAgent?.slice(0, 255) ?? null,
        })
        .executeTakeFirstOrThrow(),
    );
    return { id, token, csrfToken };
  }

  /**
   * The live session behind a cookie token: not expired, not idle past `idleMs`, user enabled.
   * A dead session is deleted on sight.
   */
  async verify(token: string, idleMs: number): Promise<{ session: WebSessionInfo; csrfToken: string; user: WebUser } | undefined> {
    const row = await this.ctx.db
      .selectFrom('web_sessions')
      .innerJoin('users', 'users.id', 'web_sessions.user_id')
      .selectAll('web_sessions')
      .select(['users.email', 'users.role', 'users.tenant_id', 'users.disabled', 'users.created_at as user_created_at', 'users.totp_enabled'])
      .where('web_sessions.token_hash', '=', sha256Hex(token))
      .executeTakeFirst();
    if (!row) return undefined;
    const now = Date.now();
    if (Number(row.expires_at) <= now || Number(row.last_seen_at) + idleMs <= now || toBool(row.disabled)) {
      await this.ctx.db.deleteFrom('web_sessions').where('id', '=', row.id).execute();
      return undefined;
    }
    if (now - Number(row.last_seen_at) > TOUCH_EVERY_MS) {
      await this.ctx.db.updateTable('web_sessions').set({ last_seen_at: now }).where('id', '=', row.id).execute();
      row.last_seen_at = now;
    }
    const user = toWebUser({
      id: row.user_id,
      email: row.email,
      role: row.role,
      tenant_id: row.tenant_id,
      disabled: row.disabled,
      created_at: row.user_created_at,
      password_hash: '',
      totp_enabled: row.totp_enabled,
    });
    return { session: toInfo(row), csrfToken: row.csrf_token, user };
  }

  async listForUser(userId: number): Promise<WebSessionInfo[]> {
    const now = Date.now();
    const rows = await this.ctx.db.selectFrom('web_sessions').selectAll().where('user_id', '=', userId).where('expires_at', '>', now).orderBy('id').execute();
    return rows.map(toInfo);
  }

  /** Revokes a session of this user only; false for an unknown id or another user's. */
  async revokeOfUser(userId: number, id: number): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('web_sessions').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async revokeAllOfUser(userId: number): Promise<number> {
    const r = await this.ctx.db.deleteFrom('web_sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Deletes sessions past their absolute expiry or idle timeout; returns how many. */
  async removeDead(idleMs: number, now = Date.now()): Promise<number> {
    const r = await this.ctx.db
      .deleteFrom('web_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - idleMs)]))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
