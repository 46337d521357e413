import type { Router, RouterContext } from '@koa/router';
import { z } from 'zod';
import type { ApiTokenScope, Database, Repositories } from '../../db/index.ts';
import { ApiError } from './middleware/api-error.ts';
import { authenticate, type AuthInfo, type SessionSettings } from './middleware/auth.ts';
import { checkCsrf } from './middleware/csrf.ts';
import { readJsonBody } from './middleware/json-body.ts';
import { checkAccess, type RouteRoles } from './middleware/roles.ts';
import { resolveTenant } from './middleware/tenant-scope.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ApiState {
  auth?: AuthInfo;
}

export type ApiContext = RouterContext<ApiState>;

/** One route as declared: what the roles middleware enforces and what OpenAPI documents. */
export interface RouteSpec<Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  /** Koa path under /api/v1 (`/accounts/:id`). */
  path: string;
  summary: string;
  tag: string;
  roles: RouteRoles;
  /** The token scope needed; default read for GET, write otherwise. */
  scope?: ApiTokenScope;
  /** Works on one tenant: the caller's, or `?tenant=<id>` for operators. */
  tenantScoped?: boolean;
  query?: Q;
  body?: B;
  /** Success body schema (OpenAPI). */
  response?: z.ZodType;
  /** Success status; 204 routes return nothing. */
  status?: 200 | 201 | 204;
  /** Non-JSON success bodies, by media type (streamed exports). */
  produces?: readonly string[];
  /** Non-JSON request bodies the handler reads itself, by media type (CSV imports); no `body` then. */
  consumes?: readonly string[];
  /** Reachable before a required 2FA enrolment is done (auth and 2FA routes). */
  beforeTwoFactor?: boolean;
}

export interface RouteInput<Q, B> {
  ctx: ApiContext;
  /** Present on every route but the public ones. */
  auth: AuthInfo;
  query: Q;
  body: B;
  params: Record<string, string>;
  /** The tenant of a tenantScoped route (0 elsewhere). */
  tenantId: number;
  /** Writes the audit row for this request's change, in the caller's transaction. */
  audit(tx: Repositories, entry: { action: string; target?: string | null; details?: Record<string, unknown> | null; tenantId?: number | null }): Promise<void>;
}

export type RouteHandler<Q, B> = (input: RouteInput<Q, B>) => Promise<unknown>;

export interface DeclaredRoute {
  spec: RouteSpec<z.ZodType, z.ZodType>;
}

/** Parses with zod and turns the first issue into a 400 naming the field. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.join('.') || undefined;
  throw new ApiError(400, issue ? `${field ? field + ': ' : ''}${issue.message}` : 'invalid input', field);
}

export function actorOf(auth: AuthInfo): string {
  return auth.via === 'token' ? `${auth.user.email} (token ${auth.tokenId})` : auth.user.email;
}

/**
 * Declares routes on a Koa router with one pipeline for all of them: authenticate → roles and
 * token scope → 2FA enrolment → CSRF → tenant → query and body validation → handler. The
 * declarations are kept for the OpenAPI document.
 */
export class ApiRouter {
  readonly routes: DeclaredRoute[] = [];

  constructor(
    private readonly router: Router<ApiState>,
    private readonly db: Database,
    private readonly session: SessionSettings,
  ) {}

  define<Q extends z.ZodType = z.ZodType<Record<string, never>>, B extends z.ZodType = z.ZodType<undefined>>(
    spec: RouteSpec<Q, B>,
    handler: RouteHandler<z.output<Q>, z.output<B>>,
  ): void {
    this.routes.push({ spec: spec as unknown as RouteSpec<z.ZodType, z.ZodType> });
    const scope: ApiTokenScope = spec.scope ?? (spec.method === 'get' ? 'read' : 'write');
    this.router[spec.method](spec.path, async (ctx) => {
      const auth = (await authenticate(this.db, ctx.headers, { session: this.session })) ?? undefined;
      if (auth) ctx.state.auth = auth;
      checkAccess(spec.roles, scope, auth);
      if (auth && !spec.beforeTwoFactor) await this.checkTwoFactorEnrolment(auth);
      // Public routes act on no session (a login while an old cookie is still set must work).
      if (spec.roles !== 'public') checkCsrf(ctx.method, auth, ctx.get('x-csrf-token') || undefined);
      const tenantId = spec.tenantScoped && auth ? await resolveTenant(this.db, auth, ctx.query['tenant']) : 0;
      const query = (spec.query ? parseInput(spec.query, withoutTenant(ctx.query)) : {}) as z.output<Q>;
      const body = (spec.body ? parseInput(spec.body, await readJsonBody(ctx)) : undefined) as z.output<B>;
      const input: RouteInput<z.output<Q>, z.output<B>> = {
        ctx,
        auth: auth!,
        query,
        body,
        params: ctx.params,
        tenantId,
        async audit(tx, entry) {
          await tx.audit.record({
            actor: auth ? actorOf(auth) : 'anonymous',
            action: entry.action,
            target: entry.target ?? null,
            details: entry.details ?? null,
            sourceAddress: ctx.ip,
            tenantId: entry.tenantId !== undefined ? entry.tenantId : tenantId || auth?.user.tenantId || null,
          });
        },
      };
      const result = await handler(input);
      if (result !== undefined) {
        ctx.status = spec.status ?? 200;
        ctx.body = result;
      } else if (ctx.body === undefined || ctx.body === null) {
        ctx.status = 204;
      }
    });
  }

  /** A tenant that requires 2FA lets an unenrolled user reach only the auth and 2FA routes. */
  private async checkTwoFactorEnrolment(auth: AuthInfo): Promise<void> {
    if (auth.user.totpEnabled || auth.user.tenantId === null) return;
    const tenant = await this.db.tenants.get(auth.user.tenantId);
    if (tenant?.require2fa) {
      throw new ApiError(403, 'this tenant requires two-factor authentication: enrol at /auth/2fa first', undefined, { twoFactorEnrolmentRequired: true });
    }
  }
}

function withoutTenant(query: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const { tenant: _tenant, ...rest } = query;
  return rest;
}
