import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { passwordChangeBody } from '../schemas/auth.ts';

/** Changing my own password: needs the current one, ends every other session of mine. */
export function mountPasswordRoutes(api: ApiRouter, d: RouteDeps): void {
  api.define(
    { method: 'post', path: '/auth/password', summary: 'Change my password (needs the current one; my other sessions end)', tag: 'auth', roles: 'any', body: passwordChangeBody, status: 204 },
    async ({ ctx, auth, body, audit }) => {
      if (auth.via !== 'session') throw new ApiError(403, 'an API token cannot change its user\'s password');
      // A stolen session must not become a password-guessing oracle: same brake as the login.
      const verdict = d.loginBrake.check(ctx.ip, auth.user.email);
      if (verdict.locked) throw new ApiError(429, `too many wrong passwords; try again in ${verdict.retryAfterSec} s`, undefined, { retryAfterSec: verdict.retryAfterSec }, verdict.retryAfterSec);
      if (!(await d.db.users.verifyPassword(auth.user.email, body.currentPassword))) {
        d.loginBrake.fail(ctx.ip, auth.user.email);
        d.logger?.warn({ event: 'auth.failed', email: auth.user.email, sourceAddress: ctx.ip, reason: 'password-change' }, 'auth.failed');
        throw new ApiError(400, 'currentPassword: wrong password', 'currentPassword');
      }
      const keep = auth.sessionId;
      await d.db.transaction(async (tx) => {
        await tx.users.setPassword(auth.user.id, body.newPassword);
        for (const s of await tx.sessions.listForUser(auth.user.id)) if (s.id !== keep) await tx.sessions.revokeOfUser(auth.user.id, s.id);
        await audit(tx, { action: 'auth.password.change', target: `user:${auth.user.email}`, tenantId: auth.user.tenantId });
      });
      return undefined;
    },
  );
}
