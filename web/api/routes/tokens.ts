import type { ApiTokenInfo, ApiTokenScope } from '../../../db/index.ts';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { tokenCreateBody, tokenCreatedSchema, tokenInfoSchema, tokensQuery } from '../schemas/auth.ts';
import { idCursor, idFrom, listOf, page } from '../schemas/common.ts';

const DEFAULT_TOKEN_LIFETIME_MS = 90 * 24 * 3600_000;

const showToken = ({ userId: _u, ...t }: ApiTokenInfo) => t;

/** My API tokens: the clear token is answered once, at creation; only its hash is stored. */
export function mountTokenRoutes(api: ApiRouter, d: RouteDeps): void {
  api.define(
    { method: 'get', path: '/tokens', summary: 'My API tokens (name, scopes, last use, expiry) in creation order; `q`: the name contains it', tag: 'tokens', roles: 'any', query: tokensQuery, response: listOf(tokenInfoSchema) },
    async ({ auth, query }) => {
      const afterId = idCursor(query.cursor);
      const rows = await d.db.tokens.listPageForUser({ userId: auth.user.id, limit: query.limit + 1, ...(afterId !== undefined && { afterId }), ...(query.q !== undefined && { q: query.q }) });
      return page(rows, query.limit, (t) => String(t.id), showToken);
    },
  );

  api.define(
    { method: 'post', path: '/tokens', summary: 'Create an API token (shown once)', tag: 'tokens', roles: 'any', body: tokenCreateBody, response: tokenCreatedSchema, status: 201 },
    async ({ auth, body, audit }) => {
      const scopes = body.scopes as ApiTokenScope[];
      // A token cannot mint a stronger one.
      if (auth.via === 'token') {
        const extra = scopes.find((s) => !auth.scopes.includes(s));
        if (extra) throw new ApiError(403, `scopes: this token lacks the ${extra} scope it would grant`, 'scopes');
      }
      if (body.expiresAt != null && body.expiresAt <= Date.now()) throw new ApiError(400, 'expiresAt: must be in the future', 'expiresAt');
      const expiresAt = body.expiresAt === undefined ? Date.now() + DEFAULT_TOKEN_LIFETIME_MS : body.expiresAt;
      const created = await d.db.transaction(async (tx) => {
        const t = await tx.tokens.create({ userId: auth.user.id, name: body.name, scopes, expiresAt });
        await audit(tx, { action: 'token.create', target: `token:${t.id}`, details: { name: body.name, scopes }, tenantId: auth.user.tenantId });
        return t;
      });
      const info = (await d.db.tokens.listForUser(auth.user.id)).find((t) => t.id === created.id)!;
      return { token: created.token, tokenInfo: showToken(info) };
    },
  );

  api.define({ method: 'delete', path: '/tokens/:id', summary: 'Revoke one of my API tokens', tag: 'tokens', roles: 'any', status: 204 }, async ({ auth, params, audit }) => {
    const id = idFrom(params['id'], 'token');
    await d.db.transaction(async (tx) => {
      if (!(await tx.tokens.revokeOfUser(auth.user.id, id))) throw new ApiError(404, 'token not found');
      await audit(tx, { action: 'token.revoke', target: `token:${id}`, tenantId: auth.user.tenantId });
    });
    return undefined;
  });
}
