import type Koa from 'koa';
import type { Logger } from 'pino';
import { DuplicateError, NotFoundError, ValidationError, isDatabaseUnavailable } from '../../../db/index.ts';
import { ApiError } from './api-error.ts';

/**
 * Turns every failure into the contract's `{error, field?}` with a 4xx/5xx status: the API's
 * own ApiError, the repositories' validation (400), duplicate (409) and not-found (404)
 * errors; anything else is logged and answered 500 without details.
 */
export function errorMiddleware(logger: Logger | undefined): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: `no route ${ctx.method} ${ctx.path}` };
      } else if ((ctx.status === 405 || ctx.status === 501) && !ctx.body) {
        const status = ctx.status;
        ctx.body = { error: `${ctx.method} is not allowed on ${ctx.path}` };
        ctx.status = status;
      }
    } catch (err) {
      if (err instanceof ApiError) {
        ctx.status = err.status;
        ctx.body = { error: err.message, ...(err.field && { field: err.field }), ...err.extra };
        if (err.retryAfterSec !== undefined) ctx.set('Retry-After', String(err.retryAfterSec));
      } else if (err instanceof ValidationError) {
        ctx.status = 400;
        ctx.body = { error: err.message, field: err.field };
      } else if (err instanceof DuplicateError) {
        ctx.status = 409;
        ctx.body = { error: err.message };
      } else if (err instanceof NotFoundError) {
        ctx.status = 404;
        ctx.body = { error: err.message };
      } else if (isDatabaseUnavailable(err)) {
        // An API write's audit row shares its transaction, so during an outage it cannot be
        // journaled: the client is told to come back (calls and registrations go on meanwhile).
        logger?.warn({ err, path: ctx.path }, 'api request failed: database unavailable');
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        ctx.body = { error: 'database unavailable, try again shortly' };
      } else {
        logger?.error({ err, path: ctx.path }, 'api request failed');
        ctx.status = 500;
        ctx.body = { error: 'internal error' };
      }
    }
  };
}
