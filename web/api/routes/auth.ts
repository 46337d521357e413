import type { WebUser } from '../../../db/index.ts';
import type { ApiContext, ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { SESSION_COOKIE } from '../middleware/auth.ts';
import { loginBody, sessionInfoSchema, sessionResponse } from '../schemas/auth.ts';
import { idFrom, listOf } from '../schemas/common.ts';

export function publicUser(u: WebUser) {
  return { id: u.id, email: u.email, role: u.role, tenantId: u.tenantId, totpEnabled: u.totpEnabled };
}

export function setSessionCookie(ctx: ApiContext, value: string | null, maxAgeMs: number): void {
  // Secure only over TLS: koa refuses a Secure cookie on plain HTTP, and a browser would drop it.
  ctx.cookies.set(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', path: '/', secure: ctx.secure, overwrite: true, ...(value !== null && { maxAge: maxAgeMs }) });
}

export function mountAuthRoutes(api: ApiRouter, d: RouteDeps): void {
  const authFailed = (ctx: ApiContext, email: string, reason: string) => {
    d.logger?.warn({ event: 'auth.failed', email, sourceAddress: ctx.ip, reason }, 'auth.failed');
  };

  api.define(
    {
      method: 'post',
      path: '/auth/login',
      summary: 'Sign in with e-mail and password (and a TOTP or recovery code once 2FA is on); sets the pb_session cookie',
      tag: 'auth',
      roles: 'public',
      body: loginBody,
      response: sessionResponse,
    },
    async ({ ctx, body }) => {
      const email = body.email.trim().toLowerCase();
      const verdict = d.loginBrake.check(ctx.ip, email);
      if (verdict.locked) {
        authFailed(ctx, email, `locked-${verdict.by}`);
        throw new ApiError(
          429,
          `too many failed sign-ins from this ${verdict.by === 'address' ? 'address' : 'account'}; try again in ${verdict.retryAfterSec} s`,
          undefined,
          { retryAfterSec: verdict.retryAfterSec },
          verdict.retryAfterSec,
        );
      }
      const user = await d.db.users.verifyPassword(email, body.password);
      if (!user) {
        d.loginBrake.fail(ctx.ip, email);
        authFailed(ctx, email, 'password');
        throw new ApiError(401, 'wrong e-mail or password');
      }
      if (user.totpEnabled) {
        if (body.totp === undefined && body.recoveryCode === undefined) {
          throw new ApiError(401, 'a two-factor code is required', undefined, { twoFactorRequired: true });
        }
        let ok = false;
        if (body.totp !== undefined) {
          const secret = await d.db.users.totpSecret(user.id);
          ok = secret !== undefined && secret.enabled && d.totp.verify(user.id, secret.secretBase32, body.totp);
        } else if (body.recoveryCode !== undefined) {
          ok = await d.db.users.useRecoveryCode(user.id, body.recoveryCode);
        }
        if (!ok) {
          d.loginBrake.fail(ctx.ip, email);
          authFailed(ctx, email, body.totp !== undefined ? 'totp' : 'recovery-code');
          throw new ApiError(401, 'wrong two-factor code', undefined, { twoFactorRequired: true });
        }
      }
      d.loginBrake.succeed(email);
      const session = await d.db.transaction(async (tx) => {
        const s = await tx.sessions.create({ userId: user.id, maxAgeMs: d.session.maxAgeMs, sourceAddress: ctx.ip, userAgent: ctx.get('user-agent') || null });
        await tx.audit.record({
          actor: user.email,
          action: body.recoveryCode !== undefined ? 'auth.login.recovery-code' : 'auth.login',
          target: `session:${s.id}`,
          sourceAddress: ctx.ip,
          tenantId: user.tenantId,
        });
        return s;
      });
      setSessionCookie(ctx, session.token, d.session.maxAgeMs);
      return { user: publicUser(user), csrfToken: session.csrfToken };
    },
  );

  api.define(
    { method: 'post', path: '/auth/logout', summary: 'End this browser session', tag: 'auth', roles: 'any', status: 204, beforeTwoFactor: true },
    async ({ ctx, auth, audit }) => {
      if (auth.via === 'session') {
        await d.db.transaction(async (tx) => {
          await tx.sessions.revokeOfUser(auth.user.id, auth.sessionId);
          await audit(tx, { action: 'auth.logout', target: `session:${auth.sessionId}`, tenantId: auth.user.tenantId });
        });
      }
      setSessionCookie(ctx, null, 0);
      return undefined;
    },
  );

  api.define(
    { method: 'get', path: '/auth/session', summary: 'Who is signed in, and the CSRF token for mutations', tag: 'auth', roles: 'any', response: sessionResponse, beforeTwoFactor: true },
    async ({ auth }) => ({ user: publicUser(auth.user), csrfToken: auth.via === 'session' ? auth.csrfToken : null }),
  );

  api.define(
    { method: 'get', path: '/me', summary: 'The signed-in user', tag: 'auth', roles: 'any', response: sessionResponse.pick({ user: true }), beforeTwoFactor: true },
    async ({ auth }) => ({ user: publicUser(auth.user) }),
  );

  api.define(
    { method: 'get', path: '/auth/sessions', summary: 'My browser sessions', tag: 'auth', roles: 'any', response: listOf(sessionInfoSchema), beforeTwoFactor: true },
    async ({ auth }) => {
      const sessions = await d.db.sessions.listForUser(auth.user.id);
      const current = auth.via === 'session' ? auth.sessionId : -1;
      return { items: sessions.map(({ userId: _u, ...s }) => ({ ...s, current: s.id === current })), nextCursor: null };
    },
  );

  api.define(
    { method: 'delete', path: '/auth/sessions/:id', summary: 'Revoke one of my sessions', tag: 'auth', roles: 'any', status: 204, beforeTwoFactor: true },
    async ({ auth, params, audit }) => {
      const id = idFrom(params['id'], 'session');
      await d.db.transaction(async (tx) => {
        if (!(await tx.sessions.revokeOfUser(auth.user.id, id))) throw new ApiError(404, 'session not found');
        await audit(tx, { action: 'auth.session.revoke', target: `session:${id}`, tenantId: auth.user.tenantId });
      });
      return undefined;
    },
  );
}
