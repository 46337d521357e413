import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { recoveryCodesResponse, totpCodeBody, totpDisableBody, totpEnrolResponse, totpStatusResponse } from '../schemas/auth.ts';
import { newRecoveryCodes, newTotpEnrolment } from '../two-factor.ts';

/** TOTP 2FA of the signed-in user (RFC 6238): enrol, confirm, recovery codes, disable. */
export function mountTwoFactorRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'two-factor', roles: 'any', beforeTwoFactor: true } as const;

  api.define({ ...base, method: 'get', path: '/auth/2fa', summary: 'My 2FA state', response: totpStatusResponse }, async ({ auth }) => {
    const secret = await d.db.users.totpSecret(auth.user.id);
    const tenant = auth.user.tenantId === null ? undefined : await d.db.tenants.get(auth.user.tenantId);
    return {
      enabled: secret?.enabled ?? false,
      pending: secret !== undefined && !secret.enabled,
      recoveryCodesLeft: await d.db.users.unusedRecoveryCodes(auth.user.id),
      requiredByTenant: tenant?.require2fa ?? false,
    };
  });

  api.define(
    { ...base, method: 'post', path: '/auth/2fa/enrol', summary: 'Start enrolment: a new secret as otpauth URI and QR code (not active until confirmed)', response: totpEnrolResponse },
    async ({ auth, audit }) => {
      const existing = await d.db.users.totpSecret(auth.user.id);
      if (existing?.enabled) throw new ApiError(409, 'two-factor authentication is already on; disable it first');
      const enrolment = await newTotpEnrolment(auth.user.email);
      await d.db.transaction(async (tx) => {
        await tx.users.setTotpSecret(auth.user.id, enrolment.secret, false);
        await audit(tx, { action: 'user.2fa.enrol', target: `user:${auth.user.id}`, tenantId: auth.user.tenantId });
      });
      return enrolment;
    },
  );

  api.define(
    { ...base, method: 'post', path: '/auth/2fa/confirm', summary: 'Confirm enrolment with a code; answers the recovery codes, once', body: totpCodeBody, response: recoveryCodesResponse },
    async ({ auth, body, audit }) => {
      const secret = await d.db.users.totpSecret(auth.user.id);
      if (!secret) throw new ApiError(409, 'no enrolment to confirm: POST /auth/2fa/enrol first');
      if (secret.enabled) throw new ApiError(409, 'two-factor authentication is already on');
      if (!d.totp.verify(auth.user.id, secret.secretBase32, body.code)) throw new ApiError(400, 'code: wrong code', 'code');
      const codes = newRecoveryCodes();
      await d.db.transaction(async (tx) => {
        await tx.users.setTotpSecret(auth.user.id, secret.secretBase32, true);
        await tx.users.replaceRecoveryCodes(auth.user.id, codes);
        await audit(tx, { action: 'user.2fa.enable', target: `user:${auth.user.id}`, tenantId: auth.user.tenantId });
      });
      return { recoveryCodes: codes };
    },
  );

  api.define(
    { ...base, method: 'post', path: '/auth/2fa/recovery-codes', summary: 'Replace my recovery codes (needs a current code); answers them once', body: totpCodeBody, response: recoveryCodesResponse },
    async ({ auth, body, audit }) => {
      const secret = await d.db.users.totpSecret(auth.user.id);
      if (!secret?.enabled) throw new ApiError(409, 'two-factor authentication is off');
      if (!d.totp.verify(auth.user.id, secret.secretBase32, body.code)) throw new ApiError(400, 'code: wrong code', 'code');
      const codes = newRecoveryCodes();
      await d.db.transaction(async (tx) => {
        await tx.users.replaceRecoveryCodes(auth.user.id, codes);
        await audit(tx, { action: 'user.2fa.recovery-codes', target: `user:${auth.user.id}`, tenantId: auth.user.tenantId });
      });
      return { recoveryCodes: codes };
    },
  );

  api.define(
    { ...base, method: 'post', path: '/auth/2fa/disable', summary: 'Turn 2FA off (needs my password; refused where the tenant requires 2FA)', body: totpDisableBody, status: 204 },
    async ({ ctx, auth, body, audit }) => {
      // A stolen session must not become a password-guessing oracle: same brake as the login.
      const verdict = d.loginBrake.check(ctx.ip, auth.user.email);
      if (verdict.locked) throw new ApiError(429, `too many wrong passwords; try again in ${verdict.retryAfterSec} s`, undefined, { retryAfterSec: verdict.retryAfterSec }, verdict.retryAfterSec);
      if (!(await d.db.users.verifyPassword(auth.user.email, body.password))) {
        d.loginBrake.fail(ctx.ip, auth.user.email);
        d.logger?.warn({ event: 'auth.failed', email: auth.user.email, sourceAddress: ctx.ip, reason: '2fa-disable-password' }, 'auth.failed');
        throw new ApiError(400, 'password: wrong password', 'password');
      }
      const tenant = auth.user.tenantId === null ? undefined : await d.db.tenants.get(auth.user.tenantId);
      if (tenant?.require2fa) throw new ApiError(409, 'this tenant requires two-factor authentication');
      await d.db.transaction(async (tx) => {
        await tx.users.setTotpSecret(auth.user.id, null, false);
        await tx.users.replaceRecoveryCodes(auth.user.id, []);
        await audit(tx, { action: 'user.2fa.disable', target: `user:${auth.user.id}`, tenantId: auth.user.tenantId });
      });
      return undefined;
    },
  );
}
