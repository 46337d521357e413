import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';
import { totpCode, TotpVerifier } from './two-factor.ts';

/** A clock the test moves, shared by the API's TOTP checks and the codes the "phone" makes. */
let now = Date.parse('2026-06-01T12:00:00Z');

describe.each(testDatabaseTargets())('TOTP 2FA on $dialect', (target) => {
  let h: ApiHarness;
  let tenantId: number;
  const login = (body: unknown) => h.call('POST', '/auth/login', { body });

  beforeAll(async () => {
    h = await startApiHarness(target, { totp: new TotpVerifier(() => now) });
    tenantId = (await h.db.tenants.add({ domain: 'totp.test' })).id;
  });
  afterAll(async () => h?.close());

  it('enrols with an otpauth URI and QR code, confirms, then requires a code or a recovery code at login', async () => {
    await h.db.users.add({ email: 'alice@totp.test', password: 'alice-password', role: 'admin', tenantId });
    const first = await login({ email: 'alice@totp.test', password: 'alice-password' });
    const { csrfToken } = (await first.json()) as { csrfToken: string };
    const auth: Credentials = { cookie: /pb_session=([^;]+)/.exec(first.headers.get('set-cookie')!)![1]!, csrf: csrfToken };

    const enrol = (await (await h.call('POST', '/auth/2fa/enrol', { auth })).json()) as { secret: string; otpauthUri: string; qrCodeDataUrl: string };
    expect(enrol.otpauthUri).toMatch(/^otpauth:\/\/totp\/Patchbay:alice%40totp\.test\?/);
    expect(enrol.otpauthUri).toContain(`secret=${enrol.secret}`);
    expect(enrol.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    // Not active before confirmation: login still needs only the password.
    expect((await login({ email: 'alice@totp.test', password: 'alice-password' })).status).toBe(200);
    expect(await (await h.call('GET', '/auth/2fa', { auth })).json()).toMatchObject({ enabled: false, pending: true });

    const wrong = await h.call('POST', '/auth/2fa/confirm', { auth, body: { code: totpCode(enrol.secret, now - 5 * 60_000) } });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ field: 'code' });
    const confirm = await h.call('POST', '/auth/2fa/confirm', { auth, body: { code: totpCode(enrol.secret, now) } });
    expect(confirm.status).toBe(200);
    const { recoveryCodes } = (await confirm.json()) as { recoveryCodes: string[] };
    expect(recoveryCodes).toHaveLength(10);
    expect(await (await h.call('GET', '/auth/2fa', { auth })).json()).toMatchObject({ enabled: true, recoveryCodesLeft: 10 });
    // Codes are stored hashed only.
    expect(JSON.stringify(await h.db.audit.list({}))).not.toContain(recoveryCodes[0]!);

    const noCode = await login({ email: 'alice@totp.test', password: 'alice-password' });
    expect(noCode.status).toBe(401);
    expect(await noCode.json()).toMatchObject({ twoFactorRequired: true });
    const badCode = await login({ email: 'alice@totp.test', password: 'alice-password', totp: '000000' });
    expect(badCode.status).toBe(401);
    expect(await badCode.json()).toMatchObject({ twoFactorRequired: true, error: 'wrong two-factor code' });
    // The confirmation's time step is spent: the same code again is a replay.
    expect((await login({ email: 'alice@totp.test', password: 'alice-password', totp: totpCode(enrol.secret, now) })).status).toBe(401);
    now += 30_000;
    const good = await login({ email: 'alice@totp.test', password: 'alice-password', totp: totpCode(enrol.secret, now) });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ user: { totpEnabled: true } });
    // A wrong password with a right code is still a wrong password.
    now += 30_000;
    expect((await login({ email: 'alice@totp.test', password: 'nope-nope', totp: totpCode(enrol.secret, now) })).status).toBe(401);

    const recovered = await login({ email: 'alice@totp.test', password: 'alice-password', recoveryCode: recoveryCodes[3] });
    expect(recovered.status).toBe(200);
    expect((await login({ email: 'alice@totp.test', password: 'alice-password', recoveryCode: recoveryCodes[3] })).status).toBe(401); // once only
    expect((await h.db.audit.list({ action: 'auth.login.recovery-code' })).length).toBe(1);
    expect((await h.call('POST', '/auth/2fa/enrol', { auth })).status).toBe(409);
  });

  it('lets an operator require 2FA per tenant: an unenrolled user can only enrol until done', async () => {
    const strict = (await h.db.tenants.add({ domain: 'strict.test' })).id;
    const op = await h.userWithSession('operator', null);
    const bob = await h.userWithSession('admin', strict);
    expect((await h.call('GET', '/kv', { auth: bob.session })).status).toBe(200);
    expect((await h.call('PATCH', `/tenants/${strict}`, { auth: op.session, body: { require2fa: true } })).status).toBe(200);
    const blocked = await h.call('GET', '/kv', { auth: bob.session });
    expect(blocked.status).toBe(403);
    expect(await blocked.json()).toMatchObject({ twoFactorEnrolmentRequired: true });
    expect(await (await h.call('GET', '/auth/2fa', { auth: bob.session })).json()).toMatchObject({ enabled: false, requiredByTenant: true });
    const { secret } = (await (await h.call('POST', '/auth/2fa/enrol', { auth: bob.session })).json()) as { secret: string };
    now += 30_000;
    expect((await h.call('POST', '/auth/2fa/confirm', { auth: bob.session, body: { code: totpCode(secret, now) } })).status).toBe(200);
    // The session's user row says 2FA is on now.
    expect((await h.call('GET', '/kv', { auth: bob.session })).status).toBe(200);
    expect((await h.call('POST', '/auth/2fa/disable', { auth: bob.session, body: { password: 'a-long-password' } })).status).toBe(409);
  });

  it('disables with the password where allowed, and an admin can reset a lost phone', async () => {
    const carol = await h.userWithSession('member', tenantId);
    const { secret } = (await (await h.call('POST', '/auth/2fa/enrol', { auth: carol.session })).json()) as { secret: string };
    now += 30_000;
    await h.call('POST', '/auth/2fa/confirm', { auth: carol.session, body: { code: totpCode(secret, now) } });
    expect((await h.call('POST', '/auth/2fa/disable', { auth: carol.session, body: { password: 'wrong-one' } })).status).toBe(400);
    expect(h.logs.some((l) => l['event'] === 'auth.failed' && l['reason'] === '2fa-disable-password')).toBe(true);
    expect((await h.call('POST', '/auth/2fa/disable', { auth: carol.session, body: { password: 'a-long-password' } })).status).toBe(204);
    expect((await h.db.users.get(carol.userId))?.totpEnabled).toBe(false);

    const dave = await h.userWithSession('member', tenantId);
    const d = (await (await h.call('POST', '/auth/2fa/enrol', { auth: dave.session })).json()) as { secret: string };
    now += 30_000;
    await h.call('POST', '/auth/2fa/confirm', { auth: dave.session, body: { code: totpCode(d.secret, now) } });
    const admin = await h.userWithSession('admin', tenantId);
    expect((await h.call('DELETE', `/users/${dave.userId}/2fa`, { auth: admin.session })).status).toBe(204);
    expect((await h.db.users.get(dave.userId))?.totpEnabled).toBe(false);
  });
});
