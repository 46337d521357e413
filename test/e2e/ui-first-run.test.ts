import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { expectSippOk, freeUdpPort, registerPhone, startSipp, startSwitch, type Switch } from './calls-support.ts';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors } from './ui-support/browser.ts';

// First run, as a new user meets it: a switch with no web user prints a one-time setup link; in
// the browser the link creates the operator, who creates a tenant and two accounts; the two
// phones (sipp) call each other through the tenant's default dialplan, which nobody wrote.

const FRESH = 'fresh.test';
const SIP_PASSWORD = 'phone-password-1';
let browser: Browser;
let sw: Switch;
let origin: string;

beforeAll(async () => {
  await ensureUiBuilt();
  sw = await startSwitch([]);
  const { host, port } = sw.running.httpAddress;
  origin = `http://${host}:${port}`;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await sw?.close();
});

describe('first run', () => {
  it('setup link → operator → tenant and two accounts in the browser → a call between them connects through the default dialplan', async () => {
    // Printed at start, and kept in the data dir readable by its owner only.
    const link = sw.running.setupUrl;
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/setup#token=[A-Za-z0-9_-]{43}$/);
    const { page, context, requests, errors } = await openPage(browser, origin);
    await page.goto(link!.replace(/^http:\/\/[^/]+/, origin));
    const form = page.getByRole('form', { name: 'Set up Patchbay' });
    await form.getByLabel('E-mail').waitFor();
    // The token came in the link's fragment: no field asks for it.
    expect(await form.getByLabel('Setup token').count()).toBe(0);
    await screenshot(page, 'setup');
    await form.getByLabel('E-mail').fill('owner@example.com');
    await form.getByLabel('Password', { exact: true }).fill('short');
    await form.getByRole('button', { name: 'Create operator account' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['At least 8 characters.']);
    await form.getByLabel('Password', { exact: true }).fill('the-operator-password');
    await form.getByLabel('Password again').fill('the-operator-password');
    await form.getByRole('button', { name: 'Create operator account' }).click();
    // Signed in as the operator, on the tenants page, the token gone from the address bar.
    await page.getByRole('heading', { name: 'Tenants', exact: true }).waitFor();
    expect(page.url()).toBe(`${origin}/tenants`);
    expect(await page.getByTestId('user-email').innerText()).toBe('owner@example.com');
    expect((await sw.running.db.users.findByEmail('owner@example.com'))?.role).toBe('operator');

    // The tenant, then its two accounts.
    await page.getByRole('button', { name: 'New tenant' }).click();
    const tenantForm = page.getByRole('form', { name: 'New tenant' });
    await tenantForm.getByLabel('SIP domain').fill(FRESH);
    await tenantForm.getByRole('button', { name: 'Create' }).click();
    await tenantForm.waitFor({ state: 'detached' });
    const tenant = (await sw.running.db.tenants.findByDomain(FRESH))!;
    expect(tenant).toBeDefined();
    await page.getByLabel('Working on tenant').selectOption({ label: FRESH });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dialplans' }).click();
    await page.getByRole('link', { name: 'default' }).waitFor();
    for (const user of ['1001', '1002']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
      await page.getByRole('button', { name: 'New account' }).click();
      const accountForm = page.getByRole('form', { name: 'New account' });
      await accountForm.getByLabel('User name').fill(user);
      await accountForm.getByLabel('SIP password').fill(SIP_PASSWORD);
      await accountForm.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('heading', { name: `${user}@${FRESH}` }).waitFor();
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    const accounts = page.getByRole('table', { name: 'Accounts' });
    await accounts.waitFor();
    expect(await accounts.locator('tbody tr td:nth-child(3)').allTextContents()).toEqual(['default', 'default']);
    await screenshot(page, 'first-run-accounts');

    // 1002's phone registers, 1001 dials 1002: the default dialplan rings 1002@local and the call connects.
    const phonePort = await freeUdpPort();
    await registerPhone(sw, '1002', phonePort, { domain: FRESH, password: SIP_PASSWORD });
    const callee = await startSipp('call-uas-answer.xml', { port: phonePort });
    const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1002', user: '1001', password: SIP_PASSWORD, domain: FRESH });
    await expectSippOk(callee, caller);
    await expect.poll(async () => (await sw.running.db.cdrs.list({ tenantId: tenant.id, limit: 10 })).length, { timeout: 15_000 }).toBe(1);
    const [cdr] = await sw.running.db.cdrs.list({ tenantId: tenant.id, limit: 10 });
    expect(cdr).toMatchObject({ status: '200', dialplan: 'default' });
    expect(cdr!.callee).toContain(`1002@${FRESH}`);

    // The link is spent: opening it again offers only the sign-in.
    const again = await openPage(browser, origin);
    await again.page.goto(link!.replace(/^http:\/\/[^/]+/, origin));
    await again.page.getByText('This switch is set up already.').waitFor();
    const reuse = await fetch(`${origin}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: new URL(link!).hash.slice('#token='.length), email: 'late@example.com', password: 'a-late-password' }) });
    expect(reuse.status).toBe(410);
    await again.context.close();

    expect(unexpectedErrors(errors)).toEqual([]);
    expect(foreignRequests(requests, origin)).toEqual([]);
    await context.close();
  }, 180_000);
});
