import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DIST_DIR, ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors } from './ui-support/browser.ts';
import { MockApiServer } from './ui-support/mock-api-server.ts';

// Accounts (list, create, edit, delete, registrations with unregister) and call records
// (filters, export links) against the contract mock.

let browser: Browser;
let mock: MockApiServer;
let origin: string;
let account1001: number;

beforeAll(async () => {
  await ensureUiBuilt();
  mock = new MockApiServer(DIST_DIR);
  mock.addUser({ email: 'admin@example.com', password: 'admin-password', role: 'admin', tenantId: 1 });
  await mock.seedDialplan(1, 'outgoing', 'await sys.Dial(`${req.uri.user}@local`);\n');
  account1001 = mock.seedAccount(1, '1001', { displayName: 'Front desk', outDialplan: 'outgoing' }).id;
  mock.seedAccount(2, '9999'); // another tenant's
  const expires = new Date(Date.now() + 3600_000).toISOString();
  mock.seedBinding(account1001, { contact: 'sip:1001@192.0.2.10:5062;transport=udp', sourceAddress: '192.0.2.10:5062', transport: 'udp', userAgent: 'Grandstream HT802', expiresAt: expires });
  mock.seedBinding(account1001, { contact: 'sip:1001@198.51.100.7:40211;transport=tcp', sourceAddress: '198.51.100.7:40211', transport: 'tcp', userAgent: 'baresip', expiresAt: expires });
  // A third one: the mock pages lists by two, so the page must follow nextCursor.
  mock.seedBinding(account1001, { contact: 'sip:1001@203.0.113.5:5060', sourceAddress: '203.0.113.5:5060', transport: 'udp', userAgent: null, expiresAt: expires });
  const base = Date.parse('2026-11-30T10:00:00Z');
  mock.seedCdr({ tenantId: 1, callId: 'c-1', caller: '1001', callee: '1002', direction: 'out', status: 'answered', startedAt: new Date(base).toISOString(), durationSec: 125, hangupCause: null });
  mock.seedCdr({ tenantId: 1, callId: 'c-2', caller: '+442079460000', callee: '1001', direction: 'in', status: 'busy', startedAt: new Date(base + 60_000).toISOString(), durationSec: 0, hangupCause: '486 Busy Here' });
  mock.seedCdr({ tenantId: 1, callId: 'c-4', caller: '1001', callee: '0800123456', direction: 'out', status: 'failed', startedAt: new Date(base + 120_000).toISOString(), durationSec: 0, hangupCause: '503 Service Unavailable' });
  mock.seedCdr({ tenantId: 2, callId: 'c-3', caller: '9999', callee: '1', direction: 'out', status: 'answered', startedAt: new Date(base).toISOString(), durationSec: 5, hangupCause: null });
  origin = await mock.start();
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await mock?.close();
});

async function signIn(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByLabel('E-mail').fill('admin@example.com');
  await page.getByLabel('Password').fill('admin-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dialplans' }).waitFor();
}

describe('accounts page', () => {
  it('lists, creates with field errors, edits, shows and unregisters bindings, deletes', async () => {
    const { page, context, requests, errors } = await openPage(browser, origin);
    await signIn(page);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    const table = page.getByRole('table', { name: 'Accounts' });
    await table.waitFor();
    expect(await table.getByRole('link').allTextContents()).toEqual(['1001@example.com']);
    expect(await table.locator('tbody tr').first().innerText()).toContain('Front desk');

    await page.getByRole('button', { name: 'New account' }).click();
    const form = page.getByRole('form', { name: 'New account' });
    await form.getByLabel('User name').fill('1003');
    await form.getByLabel('SIP password').fill('short');
    const posts = (): number => mock.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/accounts').length;
    await form.getByRole('button', { name: 'Create' }).click();
    expect(await form.getByRole('alert').innerText()).toBe('At least 8 characters.');
    expect(await form.getByLabel('SIP password').getAttribute('aria-invalid')).toBe('true');
    expect(posts()).toBe(0);
    // The API's answer lands beside its field too.
    await form.getByLabel('User name').fill('1001');
    await form.getByLabel('SIP password').fill('long-enough-password');
    await form.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => form.getByRole('alert').innerText()).toBe('1001 exists already.');
    expect(posts()).toBe(1);
    await form.getByLabel('User name').fill('1003');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: '1003@example.com' }).waitFor();
    const created = mock.accountsOf(1).find((a) => a.username === '1003')!;
    expect(created.password).toBe('long-enough-password');

    // Edit: validation as the API does it, then the change reaches the API.
    const settings = page.getByRole('form', { name: 'Account settings' });
    await settings.getByLabel('Display name').fill('Warehouse');
    await settings.getByLabel('Max concurrent calls').fill('many');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    expect(await settings.getByRole('alert').innerText()).toBe('A whole number, or empty for no limit.');
    await settings.getByLabel('Max concurrent calls').fill('2');
    await settings.getByLabel('Outgoing dialplan').selectOption('outgoing');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.getByRole('status').waitFor();
    expect(mock.accountsOf(1).find((a) => a.id === created.id)).toMatchObject({ displayName: 'Warehouse', maxCalls: 2, outDialplan: 'outgoing' });
    expect(await page.getByText('No phone is registered to this account.').isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 1003@example.com?' }).getByRole('button', { name: 'Delete account' }).click();
    await table.waitFor();
    expect(await table.getByRole('link').allTextContents()).toEqual(['1001@example.com']);
    expect(mock.accountsOf(1).some((a) => a.username === '1003')).toBe(false);

    // Registrations: contact, source, transport, user agent, expiry; unregister one.
    await table.getByRole('link', { name: '1001@example.com' }).click();
    const bindings = page.getByRole('table', { name: 'Registrations' });
    await bindings.waitFor();
    expect(await bindings.locator('tbody tr').count()).toBe(3);
    expect(await bindings.locator('tbody tr').first().innerText()).toMatch(/sip:1001@192\.0\.2\.10:5062;transport=udp\s+192\.0\.2\.10:5062\s+UDP\s+Grandstream HT802/);
    await screenshot(page, 'account');
    await bindings.locator('tbody tr', { hasText: 'baresip' }).getByRole('button', { name: 'Unregister' }).click();
    await page.getByRole('dialog', { name: 'Unregister this phone?' }).getByRole('button', { name: 'Unregister' }).click();
    await expect.poll(() => bindings.locator('tbody tr').count()).toBe(2);
    expect(mock.bindingsOf(account1001).map((b) => b.userAgent)).toEqual(['Grandstream HT802', null]);

    expect(foreignRequests(requests, origin)).toEqual([]);
    expect(unexpectedErrors(errors, [401, 409])).toEqual([]);
    await context.close();
  }, 90_000);
});

describe('call records page', () => {
  it('filters and links the exports with the same filters', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page);
    await page.goto('/cdrs');
    const table = page.getByRole('table', { name: 'Call records' });
    await table.waitFor();
    // Only this tenant's calls, a page at a time (the mock pages by two).
    expect(await table.locator('tbody tr').count()).toBe(2);
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => table.locator('tbody tr').innerText()).toContain('0800123456');
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Next page' }).count()).toBe(0);
    await page.getByRole('button', { name: 'First page' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    await page.getByLabel('Direction').selectOption('in');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    await expect.poll(() => table.locator('tbody tr').innerText()).toContain('+442079460000');
    expect(await table.locator('tbody tr').innerText()).toMatch(/\+442079460000\s+1001\s+incoming\s+busy · 486 Busy Here/);
    await screenshot(page, 'cdrs');

    const csv = page.getByRole('link', { name: 'Export CSV' });
    expect(await csv.getAttribute('href')).toBe('/api/v1/cdrs/export?direction=in&format=csv');
    const exported = await page.evaluate(async (href) => (await fetch(href!)).text(), await csv.getAttribute('href'));
    expect(exported.split('\n')).toHaveLength(2);
    expect(exported).toContain('+442079460000,1001,in,busy');

    await page.getByLabel('Direction').selectOption('');
    await page.getByLabel('Text').fill('1002');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => table.locator('tbody tr').innerText()).toContain('1002');
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').innerText()).toContain('2:05');
    expect(await page.getByRole('link', { name: 'Export JSON' }).getAttribute('href')).toBe('/api/v1/cdrs/export?q=1002&format=json');

    await page.getByLabel('Text').fill('nobody-called-this');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No calls match these filters.').waitFor();
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);
});
