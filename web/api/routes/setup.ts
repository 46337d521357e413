import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { sessionResponse } from '../schemas/auth.ts';
import { password8 } from '../schemas/common.ts';
import { publicUser, setSessionCookie } from './auth.ts';

const setupBody = z.object({ token: z.string().min(1).max(256), email: z.string().min(3).max(255).regex(/^[^\s@]+@[^\s@]+$/, 'must be an e-mail address'), password: password8 });

/** First run: the setup link's token creates the first operator, once; closed as soon as any web user exists. */
export function mountSetupRoutes(api: ApiRouter, d: RouteDeps): void {
  api.define({ method: 'get', path: '/setup', summary: 'Whether the first-run setup is open (no web user yet)', tag: 'auth', roles: 'public', response: z.object({ open: z.boolean() }) }, async () => ({
    open: (await d.firstRun?.isOpen()) ?? false,
  }));

  api.define(
    { method: 'post', path: '/setup', summary: 'Create the first operator with the one-time setup token printed at start; signs them in', tag: 'auth', roles: 'public', body: setupBody, response: sessionResponse, status: 201 },
    async ({ ctx, body }) => {
      const setup = d.firstRun;
      if (!setup || !(await setup.isOpen())) {
        setup?.close();
        throw new ApiError(410, 'setup is closed: this switch has a web user already; sign in instead');
      }
      // 256 random bits cannot be guessed, but a wrong token still counts as a failed sign-in.
      const verdict = d.loginBrake.check(ctx.ip, 'setup');
      if (verdict.locked) throw new ApiError(429, `too many wrong setup tokens; try again in ${verdict.retryAfterSec} s`, undefined, { retryAfterSec: verdict.retryAfterSec }, verdict.retryAfterSec);
      if (!setup.take(body.token)) {
        d.loginBrake.fail(ctx.ip, 'setup');
        d.logger?.warn({ event: 'auth.failed', sourceAddress: ctx.ip, reason: 'setup-token' }, 'auth.failed');
        throw new ApiError(403, 'token: not this switch\'s setup token (see the link printed at start, or <data dir>/setup-token)', 'token');
      }
      let created;
      try {
        created = await d.db.transaction(async (tx) => {
          if ((await tx.users.listPage({ limit: 1 })).length > 0) throw new ApiError(410, 'setup is closed: this switch has a web user already; sign in instead');
          const user = await tx.users.add({ email: body.email.trim().toLowerCase(), password: body.password, role: 'operator', tenantId: null });
          const session = await tx.sessions.create({ userId: user.id, maxAgeMs: d.session.maxAgeMs, sourceAddress: ctx.ip, userAgent: ctx.get('user-agent') || null });
          await tx.audit.record({ actor: user.email, action: 'setup.operator', target: `user:${user.email}`, sourceAddress: ctx.ip, tenantId: null });
          return { user, session };
        });
      } catch (err) {
        if (!(err instanceof ApiError)) setup.release(body.token);
        throw err;
      }
      setup.close();
      setSessionCookie(ctx, created.session.token, d.session.maxAgeMs);
      return { user: publicUser(created.user), csrfToken: created.session.csrfToken };
    },
  );
}
