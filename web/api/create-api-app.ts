import Koa from 'koa';
import { Router } from '@koa/router';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DuplicateError, NotFoundError, ValidationError, type Database, type WebUser } from '../../db/index.ts';
import { ApiError } from './api-error.ts';
import { readJsonBody } from './json-body.ts';
import { requireUser } from './require-user.ts';
import { mountCallRoutes } from './routes/calls.ts';
import type { CallControl } from '../../server/calls/index.ts';

export interface ApiDeps {
  db: Database;
  /** Live call control (the switch's CallService); without it the /calls routes answer 503. */
  calls?: CallControl;
  version: string;
  /** Epoch ms the process started; defaults to when the app was created. */
  startedAt?: number;
  logger?: Logger;
}

export interface ApiState {
  user?: WebUser;
}

const loginSchema = z.object({
  email: z.string().min(3).max(255),
  password: z.string().min(1).max(1024),
  tokenName: z.string().min(1).max(255).optional(),
});

/** Parses with zod and turns the first issue into a 400 naming the field. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.join('.') || undefined;
  throw new ApiError(400, issue ? `${field ? field + ': ' : ''}${issue.message}` : 'invalid input', field);
}

export function createApiApp(deps: ApiDeps): Koa<ApiState> {
  const startedAt = deps.startedAt ?? Date.now();
  const app = new Koa<ApiState>();
  app.proxy = false;
  const router = new Router<ApiState>({ prefix: '/api/v1' });

  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: `no route ${ctx.method} ${ctx.path}` };
      }
    } catch (err) {
      if (err instanceof ApiError) {
        ctx.status = err.status;
        ctx.body = { error: err.message, ...(err.field && { field: err.field }) };
      } else if (err instanceof ValidationError) {
        ctx.status = 400;
        ctx.body = { error: err.message, field: err.field };
      } else if (err instanceof DuplicateError) {
        ctx.status = 409;
        ctx.body = { error: err.message };
      } else if (err instanceof NotFoundError) {
        ctx.status = 404;
        ctx.body = { error: err.message };
      } else {
        deps.logger?.error({ err, path: ctx.path }, 'api request failed');
        ctx.status = 500;
        ctx.body = { error: 'internal error' };
      }
    }
  });

  router.get('/health', async (ctx) => {
    let dbOk = true;
    try {
      await deps.db.ping();
    } catch {
      dbOk = false;
    }
    ctx.status = dbOk ? 200 : 503;
    ctx.body = {
      status: dbOk ? 'ok' : 'degraded',
      version: deps.version,
      uptimeSec: Math.floor((Date.now() - startedAt) / 1000),
      db: deps.db.dialect,
    };
  });

  router.post('/auth/login', async (ctx) => {
    const input = parseInput(loginSchema, await readJsonBody(ctx));
    const user = await deps.db.users.verifyPassword(input.email, input.password);
    if (!user) throw new ApiError(401, 'wrong e-mail or password');
    const { token } = await deps.db.tokens.create({ userId: user.id, name: input.tokenName ?? 'web login', expiresAt: Date.now() + 12 * 3600_000 });
    await deps.db.audit.record({ actor: user.email, action: 'user.login', sourceAddress: ctx.ip, tenantId: user.tenantId });
    ctx.body = { token, user };
  });

  router.get('/me', async (ctx) => {
    ctx.body = { user: await requireUser(ctx, deps.db) };
  });

  mountCallRoutes(router, deps);

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
