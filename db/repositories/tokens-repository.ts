import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../secrets.ts';
import { containsText, insertedId, toBool, type RepositoryContext } from './context.ts';
import { toWebUser, type WebUser } from './users-repository.ts';

export type ApiTokenScope = 'read' | 'write' | 'calls';
export const API_TOKEN_SCOPES: readonly ApiTokenScope[] = ['read', 'write', 'calls'];

function parseScopes(text: string | null | undefined): ApiTokenScope[] {
  return (text ?? '').split(',').filter((s): s is ApiTokenScope => (API_TOKEN_SCOPES as readonly string[]).includes(s));
}

export interface ApiTokenInfo {
  id: number;
  userId: number;
  name: string;
  scopes: ApiTokenScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

export class TokensRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  /** Creates a token; the clear token is returned once and only its SHA-256 is stored. */
  async create(input: { userId: number; name: string; expiresAt?: number | null; scopes?: readonly ApiTokenScope[] }): Promise<{ id: number; token: string }> {
    const scopes = [...new Set(input.scopes ?? API_TOKEN_SCOPES)].filter((s) => API_TOKEN_SCOPES.includes(s));
    const token = `pb_${randomBytes(32).toString('base64url')}`;
    const id = insertedId(
      await this.ctx.db
        .insertInto('api_tokens')
        .values({
          user_id: input.userId,
          name: input.name.slice(0, 255),
          scopes: scopes.join(','),
          token_hash: sha256Hex(token),
          created_at: Date.now(),
          expires_at: input.expiresAt ?? null,
          last_used_at: null,
        })
        .executeTakeFirstOrThrow(),
    );
    return { id, token };
  }

  /** The token's user if the token exists, has not expired and the user is enabled. */
  async verify(token: string): Promise<{ tokenId: number; user: WebUser; scopes: ApiTokenScope[] } | undefined> {
    const row = await this.ctx.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('users')
      .select(['api_tokens.id as token_id', 'api_tokens.expires_at as token_expires_at', 'api_tokens.scopes as token_scopes', 'api_tokens.last_used_at as token_last_used_at'])
      .where('api_tokens.token_hash', '=', sha256Hex(token))
      .executeTakeFirst();
    if (!row || toBool(row.disabled)) return undefined;
    const now = Date.now();
    if (row.token_expires_at !== null && Number(row.token_expires_at) <= now) return undefined;
    // "Last used" to the minute is enough and spares a write per request.
    if (row.token_last_used_at === null || now - Number(row.token_last_used_at) > 60_000) {
      await this.ctx.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.token_id).execute();
    }
    return { tokenId: row.token_id, user: toWebUser(row), scopes: parseScopes(row.token_scopes) };
  }

  async listForUser(userId: number): Promise<ApiTokenInfo[]> {
    return this.listPageForUser({ userId });
  }

  /** A user's tokens in id order, after `afterId`, optionally those whose name contains `q` (letter case aside). */
  async listPageForUser(opts: { userId: number; limit?: number; afterId?: number; q?: string }): Promise<ApiTokenInfo[]> {
    let sel = this.ctx.db.selectFrom('api_tokens').selectAll().where('user_id', '=', opts.userId).orderBy('id');
    if (opts.limit !== undefined) sel = sel.limit(opts.limit);
    if (opts.afterId !== undefined) sel = sel.where('id', '>', opts.afterId);
    if (opts.q !== undefined && opts.q !== '') sel = sel.where(containsText('name', opts.q));
    const rows = await sel.execute();
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      name: r.name,
      scopes: parseScopes(r.scopes),
      createdAt: Number(r.created_at),
      expiresAt: r.expires_at === null ? null : Number(r.expires_at),
      lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    }));
  }

  /** Revokes a token of this user only (false for another user's id, so it reads as unknown). */
  async revokeOfUser(userId: number, id: number): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('api_tokens').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async revoke(id: number): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
