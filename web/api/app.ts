import { mountSetupRoutes } from './routes/setup.ts';
import { mountPasswordRoutes } from './routes/password.ts';
import Koa from 'koa';
import { Router } from '@koa/router';
import { ApiRouter, type ApiState } from './api-router.ts';
import type { ApiDeps, RouteDeps } from './deps.ts';
import { LoginBrake } from './login-brake.ts';
import { DEFAULT_SESSION_SETTINGS } from './middleware/auth.ts';
import { errorMiddleware } from './middleware/errors.ts';
import { mountAccountRoutes } from './routes/accounts.ts';
import { mountAuditRoutes } from './routes/audit.ts';
import { mountAuthRoutes } from './routes/auth.ts';
import { mountCallRoutes } from './routes/calls.ts';
import { mountCdrRoutes } from './routes/cdrs.ts';
import { mountContactRoutes } from './routes/contacts.ts';
import { mountDialplanRoutes } from './routes/dialplans.ts';
import { mountDocsRoutes } from './routes/docs.ts';
import { mountHealthRoutes } from './routes/health.ts';
import { mountKvRoutes } from './routes/kv.ts';
import { mountOpenApiRoute } from './routes/openapi.ts';
import { mountProviderRoutes } from './routes/providers.ts';
import { mountSecretRoutes } from './routes/secrets.ts';
import { mountSystemRoutes } from './routes/system.ts';
import { mountTenantRoutes } from './routes/tenants.ts';
import { mountTokenRoutes } from './routes/tokens.ts';
import { mountTwoFactorRoutes } from './routes/two-factor.ts';
import { mountUserRoutes } from './routes/users.ts';
import { TotpVerifier } from './two-factor.ts';

export const API_PREFIX = '/api/v1';

export interface ApiApp {
  app: Koa<ApiState>;
  /** Every declared route (for the OpenAPI document and its test). */
  routes: ApiRouter['routes'];
  /** The Koa router itself: its layers are what really answers (the OpenAPI test compares). */
  router: Router<ApiState>;
}

function resolveDeps(deps: ApiDeps): RouteDeps {
  return {
    ...deps,
    startedAt: deps.startedAt ?? Date.now(),
    session: { ...DEFAULT_SESSION_SETTINGS, ...deps.session },
    loginBrake: deps.loginBrake instanceof LoginBrake ? deps.loginBrake : new LoginBrake(deps.loginBrake),
    compileDialplan:
      deps.compileDialplan ??
      (async (source, language) => {
        const { compileDialplan } = await import('../../sandbox/index.ts');
        return compileDialplan(source, language);
      }),
    totp: deps.totp ?? new TotpVerifier(),
    changed(event) {
      try {
        deps.events?.emit({ type: 'config.changed', ...event });
      } catch (err) {
        deps.logger?.error({ err }, 'config.changed listener failed');
      }
    },
  };
}

/** The REST API `/api/v1` as a Koa app (mounted by web/http-server.ts). */
export function createApi(deps: ApiDeps): ApiApp {
  const d = resolveDeps(deps);
  const app = new Koa<ApiState>();
  app.proxy = deps.trustProxy === true;
  const router = new Router<ApiState>({ prefix: API_PREFIX });
  const api = new ApiRouter(router, deps.db, d.session);

  app.use(errorMiddleware(deps.logger));
  mountHealthRoutes(api, d);
  mountAuthRoutes(api, d);
  mountTwoFactorRoutes(api, d);
  mountPasswordRoutes(api, d);
  mountSetupRoutes(api, d);
  mountTokenRoutes(api, d);
  mountTenantRoutes(api, d);
  mountUserRoutes(api, d);
  mountAccountRoutes(api, d);
  mountDialplanRoutes(api, d);
  mountProviderRoutes(api, d);
  mountCdrRoutes(api, d);
  mountCallRoutes(api, d);
  mountKvRoutes(api, d);
  mountSecretRoutes(api, d);
  mountAuditRoutes(api, d);
  mountContactRoutes(api, d);
  mountSystemRoutes(api, d);
  mountOpenApiRoute(api, d, API_PREFIX);
  mountDocsRoutes(api);

  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, routes: api.routes, router };
}

/** The Koa app alone (kept for callers of the earlier API). */
export function createApiApp(deps: ApiDeps): Koa<ApiState> {
  return createApi(deps).app;
}
