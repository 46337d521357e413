import type Koa from 'koa';
import type { Database, WebUser } from '../../db/index.ts';
import { ApiError } from './api-error.ts';

/** Resolves `Authorization: Bearer <token>` to a user; 401 otherwise. */
export async function requireUser(ctx: Koa.ParameterizedContext<{ user?: WebUser }>, db: Database): Promise<WebUser> {
  const header = ctx.get('authorization');
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw new ApiError(401, 'missing bearer token');
  const verified = await db.tokens.verify(m[1]!);
  if (!verified) throw new ApiError(401, 'invalid or expired token');
  ctx.state.user = verified.user;
  return verified.user;
}

