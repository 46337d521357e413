import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors } from './ui-support/browser.ts';
import { startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// The app shell against the real switch (REST API, sessions, roles, TOTP): login (with 2FA),
// session restore, logout, role-aware navigation, tablet layout, nothing fetched from another host.

let browser: Browser;
let ui: UiSwitch;
let origin: string;
let twoFactor: Awaited<ReturnType<UiSwitch['enrolTotp']>>;

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch();
  origin = ui.origin;
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.addUser('twofa@acme.test', 'twofa-password', 'admin');
  twoFactor = await ui.enrolTotp('twofa@acme.test', 'twofa-password');
  await ui.addUser('desk@acme.test', 'desk-password', 'receptionist');
  await ui.addUser('member@acme.test', 'member-password', 'member');
  await ui.seedDialplan('outgoing', 'await sys.Dial(`${req.uri.user}@local`);\n');
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

describe('web app shell', () => {
  it('signs in, restores the session on reload, signs out, and fetches only from the switch', async () => {
    const { page, context, requests, errors } = await openPage(browser, origin);
    await page.goto('/');
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await screenshot(page, 'login');

    await page.getByLabel('E-mail').fill('admin@acme.test');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('E-mail or password is wrong');

    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('user-email').waitFor();
    expect(await page.getByTestId('user-email').textContent()).toBe('admin@acme.test');
    // Admins land on the dialplans and see every page of their tenant.
    await page.getByRole('heading', { name: 'Dialplans' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dialplans');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Dialplans', 'Accounts', 'Providers', 'Switchboard', 'Call records', 'Live console', 'Users', 'API tokens', 'Secrets', 'Audit log']);
    expect(await nav.getByRole('link', { name: 'Dialplans' }).getAttribute('aria-current')).toBe('page');

    // The cookie is HttpOnly: the page's script cannot read it, yet a reload keeps the session.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    const cookie = (await context.cookies()).find((c) => c.name === 'pb_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    await page.goto('/accounts');
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    expect(await page.getByTestId('user-email').textContent()).toBe('admin@acme.test');

    const logout = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/auth/logout'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // Sent with the CSRF token the restored session handed out, so the server really ended it:
    // the old cookie no longer opens a session.
    expect((await logout).headers()['x-csrf-token']).toMatch(/.{16,}/);
    const revoked = await fetch(`${origin}/api/v1/auth/session`, { headers: { cookie: `pb_session=${cookie!.value}` } });
    expect(revoked.status).toBe(401);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();

    expect(foreignRequests(requests, origin)).toEqual([]);
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);

  it('asks for the 2FA code when the API says so, and accepts a recovery code', async () => {
    const { page, context } = await openPage(browser, origin);
    await page.goto('/');
    await page.getByLabel('E-mail').fill('twofa@acme.test');
    await page.getByLabel('Password').fill('twofa-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Two-factor code' }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('totp');
    await screenshot(page, 'login-2fa');

    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That code is not valid');
    // The next time step's code: the one the enrolment was confirmed with cannot be replayed.
    await page.getByLabel('Authentication code').fill(twoFactor.totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('user-email').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();

    await page.getByLabel('E-mail').fill('twofa@acme.test');
    await page.getByLabel('Password').fill('twofa-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await page.getByLabel('Recovery code').fill(twoFactor.recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('user-email').waitFor();
    await context.close();
  }, 90_000);

  it('shows a receptionist only the pages of that role and refuses the dialplan page', async () => {
    const { page, context, requests } = await openPage(browser, origin);
    await page.goto('/');
    await page.getByLabel('E-mail').fill('desk@acme.test');
    await page.getByLabel('Password').fill('desk-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Receptionists land on the switchboard.
    await page.getByRole('heading', { name: 'Switchboard' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Switchboard', 'Call records', 'API tokens']);

    await page.goto('/dialplans/outgoing');
    await page.getByTestId('forbidden').waitFor();
    expect(await page.getByTestId('forbidden').textContent()).toContain('receptionist role cannot open dialplans');
    expect(await page.locator('.monaco-editor').count()).toBe(0);
    // The UI never asked for the dialplan; and asked directly, the API refuses too.
    expect(requests.some((url) => url.includes('/api/v1/dialplans'))).toBe(false);
    const status = await page.evaluate(async () => (await fetch('/api/v1/dialplans/outgoing')).status);
    expect(status).toBe(403);
    await context.close();
  }, 90_000);

  it('signs in with the keyboard alone, with a visible focus ring', async () => {
    const { page, context } = await openPage(browser, origin);
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.keyboard.type('admin@acme.test');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.type('admin-password');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Dialplans' }).waitFor();
    await context.close();
  }, 90_000);

  it('sends an expired session back to sign-in and returns to the same page after', async () => {
    const { page, context } = await openPage(browser, origin);
    await page.goto('/');
    await page.getByLabel('E-mail').fill('admin@acme.test');
    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dialplans' }).waitFor();
    await ui.revokeSessions('admin@acme.test');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('status').textContent()).toContain('Your session ended');
    await page.getByLabel('E-mail').fill('admin@acme.test');
    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/accounts');
    await context.close();
  }, 90_000);

  it('gives a member their accounts without the admin-only actions', async () => {
    const { page, context } = await openPage(browser, origin);
    await page.goto('/accounts');
    await page.getByLabel('E-mail').fill('member@acme.test');
    await page.getByLabel('Password').fill('member-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Dialplans', 'Accounts', 'Call records', 'Live console', 'API tokens']);
    expect(await page.getByRole('button', { name: 'New account' }).count()).toBe(0);
    await context.close();
  }, 90_000);

  it('says what to do when the switch fails or cannot be reached, and recovers on "Try again"', async () => {
    const { page, context } = await openPage(browser, origin);
    await page.goto('/');
    await page.getByLabel('E-mail').fill('admin@acme.test');
    await page.getByLabel('Password').fill('admin-password');
    // A failing database is not something to cause in a test switch: this one answer is replaced.
    await page.route('**/api/v1/dialplans', (route) => route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'the database is not answering' }) }), { times: 1 });
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.innerText()).toContain('The switch failed to answer (500): the database is not answering. Try again in a moment.');
    await screenshot(page, 'error-banner');
    await alert.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('link', { name: 'outgoing' }).waitFor();

    // A network failure (Chromium would retry a dropped keep-alive GET by itself, so abort it).
    await page.route('**/api/v1/accounts*', (route) => route.abort('connectionreset'), { times: 1 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await expect.poll(() => alert.innerText()).toContain('Cannot reach the switch. Check your connection and try again.');
    await alert.getByRole('button', { name: 'Try again' }).click();
    // "New account" sits in the page header, shown before the list answers: wait on the banner itself.
    await expect.poll(() => page.getByRole('alert').count()).toBe(0);
    await page.getByRole('button', { name: 'New account' }).waitFor();
    await context.close();
  }, 90_000);

  it('folds the navigation into a menu on a tablet', async () => {
    const { page, context } = await openPage(browser, origin, { width: 820, height: 1180 });
    await page.goto('/');
    await page.getByLabel('E-mail').fill('admin@acme.test');
    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dialplans' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Menu' }).click();
    expect(await nav.isVisible()).toBe(true);
    await screenshot(page, 'tablet-menu');
    await nav.getByRole('link', { name: 'Call records' }).click();
    await page.getByRole('heading', { name: 'Call records' }).waitFor();
    expect(await nav.isVisible()).toBe(false);
    // No horizontal scrolling of the page itself.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await context.close();
  }, 90_000);
});
