import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors, signIn } from './ui-support/browser.ts';
import type { Cdr } from '../../db/index.ts';
import { expectSippOk, PASSWORD, startSipp } from './calls-support.ts';
import { DOMAIN, OTHER_DOMAIN, sippRegister, startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// Accounts (list, create, edit, delete, registrations made by real sipp REGISTERs, unregister)
// and call records (a real sipp call beside stored ones; filters, paging, export) against the
// real switch.

let browser: Browser;
let ui: UiSwitch;
let origin: string;
let phonePorts: number[];

const BASE = Date.parse('2026-11-30T10:00:00Z');

/** A stored call record as the switch writes them (SIP URIs, final status code as text). */
function cdr(tenantId: number, callId: string, caller: string, callee: string, direction: Cdr['direction'], status: number, reason: string | null, at: number, durationSec = 0): Cdr {
  const answered = status === 200;
  return {
    callId, tenantId, caller, callee, direction, dialplan: 'outgoing', legs: [], startedAt: at, ringingAt: at + 1000,
    answeredAt: answered ? at + 3000 : null, endedAt: at + 3000 + durationSec * 1000, durationSec, hangupSide: 'caller',
    hangupCause: reason, status: String(status), dialStrings: [], outcome: answered ? 'answered' : status === 487 ? 'cancelled' : 'failed',
    ringSec: 3, history: [],
  };
}

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch(['1001', '1002']);
  origin = ui.origin;
  const db = ui.sw.running.db;
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.seedDialplan('outgoing', 'await sys.Dial(`${req.uri.user}@local`);\n');
  await db.accounts.update('1001', DOMAIN, { displayName: 'Front desk', outDialplan: 'outgoing' });
  await db.accounts.add({ username: '9999', domain: OTHER_DOMAIN, password: 'other-password' }); // another tenant's
  // Two phones of 1001: real REGISTERs from two UDP ports.
  phonePorts = [await sippRegister(ui.sw.target, '1001', PASSWORD), await sippRegister(ui.sw.target, '1001', PASSWORD)];

  // Stored history (older than a page of 50, so the page must follow nextCursor) ...
  const tenant = ui.sw.tenantId;
  const older = Array.from({ length: 50 }, (_, i) => cdr(tenant, `old-${i}`, `sip:1001@${DOMAIN}`, `sip:1009@${DOMAIN}`, 'internal', 487, 'Request Terminated', BASE - 86_400_000 + i * 60_000));
  await db.cdrs.insertMany([
    ...older,
    cdr(tenant, 'c-1', `sip:1001@${DOMAIN}`, `sip:1002@${DOMAIN}`, 'internal', 200, 'Normal clearing', BASE, 125),
    cdr(tenant, 'c-2', 'sip:+442079460000@carrier.example', `sip:1001@${DOMAIN}`, 'inbound', 486, 'Busy Here', BASE + 60_000),
    cdr(tenant, 'c-4', `sip:1001@${DOMAIN}`, 'sip:0800123456@carrier.example', 'outbound', 503, 'Service Unavailable', BASE + 120_000),
    cdr(ui.otherTenantId, 'c-3', `sip:9999@${OTHER_DOMAIN}`, `sip:1@${OTHER_DOMAIN}`, 'internal', 200, 'Normal clearing', BASE, 5),
  ]);
  // ... and one real call: 1002 dials 2000, its dialplan answers busy.
  await ui.seedDialplan('busy', 'await sys.Respond(486, "Busy Here");');
  await db.accounts.update('1002', DOMAIN, { outDialplan: 'busy' });
  ui.sw.running.sip.directory.invalidate();
  await expectSippOk(await startSipp('e2e-uac-auth-fail-486.xml', { remote: ui.sw.target, service: '2000', user: '1002' }));
  await ui.sw.waitForCdrs(54);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

describe('accounts page', () => {
  it('lists, creates with field errors, edits, shows and unregisters bindings, deletes', async () => {
    const { page, context, requests, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    const table = page.getByRole('table', { name: 'Accounts' });
    await table.waitFor();
    // Only this tenant's accounts.
    expect(await table.getByRole('link').allTextContents()).toEqual(['1001@acme.test', '1002@acme.test']);
    expect(await table.locator('tbody tr').first().innerText()).toContain('Front desk');
    await screenshot(page, 'accounts');

    await page.getByRole('button', { name: 'New account' }).click();
    const form = page.getByRole('form', { name: 'New account' });
    await form.getByLabel('User name').fill('1003');
    await form.getByLabel('SIP password').fill('short');
    let posts = 0;
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/accounts') posts++;
    });
    await form.getByRole('button', { name: 'Create' }).click();
    expect(await form.getByRole('alert').innerText()).toBe('At least 8 characters.');
    expect(await form.getByLabel('SIP password').getAttribute('aria-invalid')).toBe('true');
    expect(posts).toBe(0);
    // The API's answer lands beside its field too.
    await form.getByLabel('User name').fill('1001');
    await form.getByLabel('SIP password').fill('long-enough-password');
    await form.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => form.getByRole('alert').innerText()).toBe('1001 exists already.');
    expect(posts).toBe(1);
    await form.getByLabel('User name').fill('1003');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: '1003@acme.test' }).waitFor();
    const createdId = Number(new URL(page.url()).pathname.split('/').at(-1));
    expect((await ui.sw.running.db.accounts.get(createdId))?.username).toBe('1003');

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
    expect(await ui.sw.running.db.accounts.get(createdId)).toMatchObject({ displayName: 'Warehouse', maxCalls: 2, outDialplan: 'outgoing' });
    await page.getByText('No phone is registered to this account.').waitFor();
    // The password typed in the form is the one the registrar checks: a phone registers with it.
    await sippRegister(ui.sw.target, '1003', 'long-enough-password');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Registrations' }).locator('tbody tr').count()).toBe(1);

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 1003@acme.test?' }).getByRole('button', { name: 'Delete account' }).click();
    await table.waitFor();
    expect(await table.getByRole('link').allTextContents()).toEqual(['1001@acme.test', '1002@acme.test']);
    expect(await ui.sw.running.db.accounts.get(createdId)).toBeUndefined();
    expect(ui.sw.running.sip.location.lookup('1003', DOMAIN)).toHaveLength(0);

    // Registrations: contact, source, transport, user agent, expiry; unregister one.
    await table.getByRole('link', { name: '1001@acme.test' }).click();
    const bindings = page.getByRole('table', { name: 'Registrations' });
    await bindings.waitFor();
    expect(await bindings.locator('tbody tr').count()).toBe(2);
    for (const port of phonePorts) {
      expect(await bindings.locator('tbody tr', { hasText: `:${port};` }).innerText()).toMatch(new RegExp(`sip:1001@127\\.0\\.0\\.1:${port};transport=udp\\s+127\\.0\\.0\\.1:${port}\\s+UDP\\s+patchbay-e2e`, 'i'));
    }
    await screenshot(page, 'account');
    await bindings.locator('tbody tr', { hasText: `:${phonePorts[1]};` }).getByRole('button', { name: 'Unregister' }).click();
    await page.getByRole('dialog', { name: 'Unregister this phone?' }).getByRole('button', { name: 'Unregister' }).click();
    await expect.poll(() => bindings.locator('tbody tr').count()).toBe(1);
    // Gone from the registrar itself: calls stop reaching that phone.
    expect(ui.sw.running.sip.location.lookup("1001", DOMAIN).map((b) => b.requestUri)).toEqual([expect.stringContaining(`:${phonePorts[0]};`)]);

    expect(foreignRequests(requests, origin)).toEqual([]);
    expect(unexpectedErrors(errors, [401, 409])).toEqual([]);
    await context.close();
  }, 90_000);
});

describe('call records page', () => {
  it('shows a real call beside stored ones, pages, filters, and links the exports with the same filters', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans');
    await page.goto('/cdrs');
    const table = page.getByRole('table', { name: 'Call records' });
    await table.waitFor();
    // Newest first: the sipp call on top, with the status its dialplan answered.
    expect(await table.locator('tbody tr').first().innerText()).toMatch(/1002@acme\.test\s+2000@acme\.test\s+\S+\s+failed · 486 Busy Here/);
    // Only this tenant's calls, a page of 50 at a time (53 stored + the real one).
    expect(await table.locator('tbody tr').count()).toBe(50);
    await screenshot(page, 'cdrs');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(4);
    expect(await table.innerText()).not.toContain('other.test');
    expect(await page.getByRole('button', { name: 'Next page' }).count()).toBe(0);
    await page.getByRole('button', { name: 'First page' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(50);
    await page.getByLabel('Direction').selectOption('inbound');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').innerText()).toMatch(/\+442079460000@carrier\.example\s+1001@acme\.test\s+incoming\s+failed · 486 Busy Here/);

    const csv = page.getByRole('link', { name: 'Export CSV' });
    expect(await csv.getAttribute('href')).toBe('/api/v1/cdrs/export?direction=inbound&format=csv');
    const exported = await page.evaluate(async (href) => (await fetch(href!)).text(), await csv.getAttribute('href'));
    const lines = exported.trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,callId,startedAt,/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('c-2,');
    expect(lines[1]).toContain('inbound,sip:+442079460000@carrier.example,sip:1001@acme.test,486,failed');

    await page.getByLabel('Direction').selectOption('');
    await page.getByLabel('Status').selectOption('200');
    await page.getByRole('button', { name: 'Apply' }).click();
    // The previous filter also showed one row: wait for the new answer, not just the row count.
    await expect.poll(() => table.locator('tbody tr').innerText()).toMatch(/1001@acme\.test\s+1002@acme\.test\s+internal\s+answered · 200 Normal clearing\s+2:05/);
    expect(await table.locator('tbody tr').count()).toBe(1);

    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Text').fill('2000@');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').innerText()).toContain('1002@acme.test');
    const json = page.getByRole('link', { name: 'Export JSON' });
    expect(await json.getAttribute('href')).toBe('/api/v1/cdrs/export?q=2000%40&format=json');
    const rows = (await page.evaluate(async (href) => (await fetch(href!)).json(), await json.getAttribute('href'))) as Array<{ caller: string; status: string }>;
    expect(rows.map((r) => [r.caller, r.status])).toEqual([['sip:1002@acme.test', '486']]);

    await page.getByLabel('Text').fill('nobody-called-this');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No calls match these filters.').waitFor();
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);
});
