import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors } from './ui-support/browser.ts';
import { startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// My profile against the real switch: change password (other sessions end), TOTP enrolment with
// the QR code and a real code, sign-in with it, turning it off, and my sessions list with revoke.


/** Polls long enough for scrypt at its real cost on a busy 2-core machine. */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });
let browser: Browser;
let ui: UiSwitch;
let origin: string;

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch([]);
  origin = ui.origin;
  await ui.addUser('member@acme.test', 'member-password', 'member');
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

/** A second browser session of the user, made through the real login route; answers its cookie. */
async function apiLogin(email: string, password: string): Promise<string> {
  const res = await fetch(`${origin}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'curl/8.5.0' }, body: JSON.stringify({ email, password }) });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}
const sessionStatus = async (cookie: string) => (await fetch(`${origin}/api/v1/auth/session`, { headers: { cookie } })).status;

describe('my profile', () => {
  it('changes the password (field errors from the form and the API), ending my other sessions', async () => {
    const { page, context, requests, errors } = await openPage(browser, origin);
    const elsewhere = await apiLogin('member@acme.test', 'member-password');
    await page.goto('/profile');
    await page.getByLabel('E-mail').fill('member@acme.test');
    await page.getByLabel('Password').fill('member-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'My profile' }).waitFor();
    // Reached from the top bar, not the side navigation.
    expect(await page.getByTestId('user-email').getAttribute('aria-current')).toBe('page');

    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('New password', { exact: true }).fill('short');
    await form.getByRole('button', { name: 'Change password' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['Enter your current password.', 'At least 8 characters.']);
    await form.getByLabel('Current password').fill('not-my-password');
    await form.getByLabel('New password', { exact: true }).fill('a-brand-new-password');
    await form.getByLabel('New password again').fill('a-brand-new-passwort');
    await form.getByRole('button', { name: 'Change password' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['Does not match the new password.']);
    await form.getByLabel('New password again').fill('a-brand-new-password');
    await form.getByRole('button', { name: 'Change password' }).click();
    // (scrypt at its real cost: password checks take a moment on a busy machine.)
    await form.getByRole('alert').filter({ hasText: 'wrong password' }).waitFor();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['wrong password']);
    expect(await form.getByLabel('Current password').getAttribute('aria-invalid')).toBe('true');
    await form.getByLabel('Current password').fill('member-password');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('status').filter({ hasText: 'Password changed. Your other sessions were signed out.' }).waitFor();
    expect(await ui.sw.running.db.users.verifyPassword('member@acme.test', 'a-brand-new-password')).toBeTruthy();
    expect(await sessionStatus(elsewhere)).toBe(401);
    // This browser stays signed in.
    await page.reload();
    await page.getByRole('heading', { name: 'My profile' }).waitFor();
    expect(unexpectedErrors(errors, [401, 400])).toEqual([]);
    expect(foreignRequests(requests, origin)).toEqual([]);
    await context.close();
  }, 90_000);

  it('enrols 2FA with the QR code and a real code, signs in with it, turns it off with the password', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await page.goto('/profile');
    await page.getByLabel('E-mail').fill('member@acme.test');
    await page.getByLabel('Password').fill('a-brand-new-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const twoFactor = page.getByRole('region', { name: 'Two-factor sign-in' });
    await twoFactor.getByTestId('2fa-state').filter({ hasText: 'off' }).waitFor();
    await twoFactor.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const qr = twoFactor.getByRole('img', { name: 'QR code of your two-factor secret' });
    await qr.waitFor();
    // A real image (a data: URL the CSP allows), decoded by the browser.
    expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 100)).toBe(true);
    const secret = (await twoFactor.getByTestId('totp-secret').innerText()).trim();
    const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
    await screenshot(page, 'profile-2fa-enrol');

    const confirm = twoFactor.getByRole('form', { name: 'Confirm two-factor sign-in' });
    await confirm.getByLabel('Code').fill('12345');
    await confirm.getByRole('button', { name: 'Turn on' }).click();
    expect(await confirm.getByRole('alert').innerText()).toBe('The 6 digits your authenticator app shows.');
    await confirm.getByLabel('Code').fill(totp.generate());
    await confirm.getByRole('button', { name: 'Turn on' }).click();
    const codes = twoFactor.getByTestId('recovery-codes');
    await codes.waitFor();
    expect((await codes.locator('li').allTextContents()).length).toBeGreaterThanOrEqual(8);
    await twoFactor.getByTestId('2fa-state').filter({ hasText: /\bon\b/ }).waitFor();
    expect((await ui.sw.running.db.users.findByEmail('member@acme.test'))?.totpEnabled).toBe(true);
    await screenshot(page, 'profile');

    // Sign-in now asks for the code (the next time step's: the enrolment code cannot be replayed).
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByLabel('E-mail').fill('member@acme.test');
    await page.getByLabel('Password').fill('a-brand-new-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('user-email').waitFor();
    await page.goto('/profile');

    await twoFactor.getByRole('button', { name: 'Turn off' }).click();
    const off = twoFactor.getByRole('form', { name: 'Turn off two-factor sign-in' });
    await off.getByLabel('Your password').fill('wrong-password');
    await off.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
    await off.getByRole('alert').filter({ hasText: 'wrong password' }).waitFor();
    await off.getByLabel('Your password').fill('a-brand-new-password');
    await off.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
    await twoFactor.getByTestId('2fa-state').filter({ hasText: 'off' }).waitFor();
    expect((await ui.sw.running.db.users.findByEmail('member@acme.test'))?.totpEnabled).toBe(false);
    expect(unexpectedErrors(errors, [401, 400])).toEqual([]);
    await context.close();
  }, 90_000);

  it('lists my sessions and revokes another one', async () => {
    const elsewhere = await apiLogin('member@acme.test', 'a-brand-new-password');
    const { page, context, errors } = await openPage(browser, origin);
    await page.goto('/profile');
    await page.getByLabel('E-mail').fill('member@acme.test');
    await page.getByLabel('Password').fill('a-brand-new-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const table = page.getByRole('table', { name: 'My sessions' });
    await table.waitFor();
    const rows = table.locator('tbody tr');
    await poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    const mine = rows.filter({ hasText: 'this browser' });
    expect(await mine.innerText()).toContain('Chrome on Linux');
    const other = rows.filter({ hasText: 'curl/8.5.0' });
    expect(await other.count()).toBe(1);
    await other.getByRole('button', { name: /^Revoke session/ }).click();
    await poll(() => rows.filter({ hasText: 'curl/8.5.0' }).count()).toBe(0);
    expect(await sessionStatus(elsewhere)).toBe(401);
    await mine.getByRole('button', { name: 'Sign out this browser' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);
});
