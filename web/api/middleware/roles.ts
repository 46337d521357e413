import type { ApiTokenScope, WebRole } from '../../../db/index.ts';
import { ApiError } from './api-error.ts';
import type { AuthInfo } from './auth.ts';

/** Who may call a route: anyone, any signed-in user, or the listed roles. */
export type RouteRoles = 'public' | 'any' | readonly WebRole[];

/**
 * The one place roles and token scopes are enforced: every route declares its roles and the
 * scope a token needs (read for GETs, write for changes, calls for live call control).
 */
export function checkAccess(roles: RouteRoles, scope: ApiTokenScope, auth: AuthInfo | undefined): void {
  if (roles === 'public') return;
  if (!auth) throw new ApiError(401, 'not signed in');
  if (roles !== 'any' && !roles.includes(auth.user.role)) throw new ApiError(403, `role ${auth.user.role} may not do this`);
  if (auth.via === 'token' && !auth.scopes.includes(scope)) throw new ApiError(403, `this API token lacks the ${scope} scope`);
}
