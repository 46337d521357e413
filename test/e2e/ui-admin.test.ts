import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors, signIn } from './ui-support/browser.ts';
import { freeUdpPort } from './calls-support.ts';
import { CARRIER_REALM, TRUNK_PASSWORD, TRUNK_USER, startCarrier, type Carrier } from './carrier-support.ts';
import { DOMAIN, OTHER_DOMAIN, startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// The admin pages against the real switch: tenants (operator), users, API tokens, secrets,
// providers (registering with a real Kamailio registrar) and the audit log, through the browser;
// every change checked in the database or by using it (a token against the API).


/** Polls long enough for scrypt at its real cost on a busy 2-core machine. */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });
let browser: Browser;
let ui: UiSwitch;
let origin: string;
let carrier: Carrier;

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch(['1001', '1002']);
  origin = ui.origin;
  const db = ui.sw.running.db;
  await db.users.add({ email: 'op@ops.test', password: 'operator-password', role: 'operator', tenantId: null });
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.addUser('desk@acme.test', 'desk-password', 'receptionist');
  await ui.addUser('theirs@other.test', 'other-password', 'admin', ui.otherTenantId);
  carrier = await startCarrier({ uasAddress: `127.0.0.1:${await freeUdpPort()}`, patchbayAddress: ui.sw.target });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.sw.running.sip.providerRegistrations.stop();
  await carrier?.stop();
  await ui?.close();
});

const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

describe('operator: tenants', () => {
  it('lists, creates with domains and aliases (field errors first), edits, deletes with confirmation, works on a chosen tenant', async () => {
    const { page, context, requests, errors } = await openPage(browser, origin);
    await signIn(page, 'op@ops.test', 'operator-password', 'Tenants', { exact: true });
    expect(new URL(page.url()).pathname).toBe('/tenants');
    expect(await nav(page).getByRole('link').allTextContents()).toEqual(['Tenants', 'Dialplans', 'Accounts', 'Providers', 'Call records', 'Live console', 'Users', 'API tokens', 'Secrets', 'Audit log']);
    const table = page.getByRole('table', { name: 'Tenants' });
    await table.waitFor();
    expect(await table.locator('tbody tr td:first-child').allTextContents()).toEqual([DOMAIN, OTHER_DOMAIN]);

    let posts = 0;
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/tenants') posts++;
    });
    await page.getByRole('button', { name: 'New tenant' }).click();
    const form = page.getByRole('form', { name: 'New tenant' });
    await form.getByLabel('SIP domain').fill('not a domain');
    await form.getByLabel('Aliases').fill('good.test, bad_alias');
    await form.getByRole('button', { name: 'Create' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['A domain name such as acme.example (letters, digits, dots and hyphens).', '"bad_alias" is not a domain name.']);
    expect(await form.getByLabel('SIP domain').getAttribute('aria-invalid')).toBe('true');
    expect(posts).toBe(0);
    // The API's 409 lands beside the domain.
    await form.getByLabel('SIP domain').fill(DOMAIN);
    await form.getByLabel('Aliases').fill('');
    await form.getByRole('button', { name: 'Create' }).click();
    await poll(() => form.getByRole('alert').innerText()).toBe(`${DOMAIN} is taken by a tenant already.`);
    expect(posts).toBe(1);
    await form.getByLabel('SIP domain').fill('Beta.Test');
    await form.getByLabel('Name', { exact: true }).fill('Beta Ltd');
    await form.getByLabel('Aliases').fill('beta-alias.test, beta2.test');
    await form.getByRole('button', { name: 'Create' }).click();
    await form.waitFor({ state: 'detached' });
    await poll(() => table.locator('tbody tr td:first-child').allTextContents()).toContain('beta.test');
    const beta = await ui.sw.running.db.tenants.findByDomain('beta.test');
    expect(beta).toMatchObject({ name: 'Beta Ltd', aliases: ['beta-alias.test', 'beta2.test'] });
    await screenshot(page, 'tenants');

    // Edit: settings with validation, then an alias removed and one added.
    await page.getByRole('button', { name: 'Edit beta.test' }).click();
    const edit = page.getByRole('region', { name: 'Edit beta.test' });
    const settings = edit.getByRole('form', { name: 'Tenant settings' });
    await settings.getByLabel('Keep call records (days)').fill('0');
    await settings.getByRole('button', { name: 'Save tenant' }).click();
    expect(await settings.getByRole('alert').innerText()).toBe('Whole days, 1 to 36500.');
    await settings.getByLabel('Keep call records (days)').fill('90');
    await settings.getByLabel('Require two-factor sign-in for its users').check();
    await settings.getByRole('button', { name: 'Save tenant' }).click();
    await poll(() => settings.getByRole('status').innerText()).toBe('Saved.');
    expect(await ui.sw.running.db.tenants.get(beta!.id)).toMatchObject({ cdrRetentionDays: 90, require2fa: true });
    await edit.getByRole('button', { name: 'Remove alias beta2.test' }).click();
    await edit.getByLabel('New alias').fill(OTHER_DOMAIN);
    await edit.getByRole('button', { name: 'Add alias' }).click();
    await poll(() => edit.getByRole('alert').innerText()).toContain(OTHER_DOMAIN);
    await edit.getByLabel('New alias').fill('beta3.test');
    await edit.getByLabel('New alias').press('Enter');
    await poll(async () => (await ui.sw.running.db.tenants.get(beta!.id))?.aliases).toEqual(['beta-alias.test', 'beta3.test']);
    await screenshot(page, 'tenant-edit');

    // Delete asks first; Cancel keeps it.
    await page.getByRole('button', { name: 'Delete beta.test' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete beta.test?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await ui.sw.running.db.tenants.get(beta!.id)).toBeDefined();
    await page.getByRole('button', { name: 'Delete beta.test' }).click();
    await dialog.getByRole('button', { name: 'Delete tenant' }).click();
    await poll(() => table.locator('tbody tr td:first-child').allTextContents()).toEqual([DOMAIN, OTHER_DOMAIN]);
    expect(await ui.sw.running.db.tenants.get(beta!.id)).toBeUndefined();

    // Tenant pages need a tenant: the operator chooses one, and the page shows that tenant's data.
    await nav(page).getByRole('link', { name: 'Accounts' }).click();
    await page.getByTestId('choose-tenant').waitFor();
    await page.getByTestId('choose-tenant').getByRole('button', { name: DOMAIN }).click();
    const accounts = page.getByRole('table', { name: 'Accounts' });
    await accounts.waitFor();
    expect(await accounts.getByRole('link').allTextContents()).toEqual([`1001@${DOMAIN}`, `1002@${DOMAIN}`]);
    expect(await page.getByLabel('Working on tenant').inputValue()).toBe(String(ui.sw.tenantId));
    await page.getByLabel('Working on tenant').selectOption({ label: OTHER_DOMAIN });
    await page.getByText('No SIP accounts yet').waitFor();
    // Or straight from the tenants list.
    await nav(page).getByRole('link', { name: 'Tenants' }).click();
    await page.getByRole('button', { name: `Work on ${DOMAIN}` }).click();
    await poll(() => page.getByRole('table', { name: 'Accounts' }).getByRole('link').allTextContents()).toEqual([`1001@${DOMAIN}`, `1002@${DOMAIN}`]);

    expect(unexpectedErrors(errors, [401, 409])).toEqual([]);
    expect(foreignRequests(requests, origin)).toEqual([]);
    await context.close();
  }, 120_000);
});

describe('admin pages', () => {
  it('users: create with a role (field errors from the form and the API), change role, disable, remove', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
    expect(await nav(page).getByRole('link').allTextContents()).toEqual(['Dialplans', 'Accounts', 'Providers', 'Switchboard', 'Call records', 'Live console', 'Users', 'API tokens', 'Secrets', 'Audit log']);
    await nav(page).getByRole('link', { name: 'Users' }).click();
    const table = page.getByRole('table', { name: 'Users' });
    await table.waitFor();
    // Only this tenant's users.
    expect(await table.locator('tbody tr td:first-child').allTextContents()).toEqual(['admin@acme.testyou', 'desk@acme.test']);

    await page.getByRole('button', { name: 'New user' }).click();
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('E-mail').fill('ana');
    await form.getByLabel('First password').fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['An e-mail address such as ana@acme.example.', 'At least 8 characters.']);
    await form.getByLabel('E-mail').fill('desk@acme.test');
    await form.getByLabel('First password').fill('a-first-password');
    await form.getByRole('button', { name: 'Create user' }).click();
    await poll(() => form.getByRole('alert').innerText()).toBe('desk@acme.test has a user already.');
    await form.getByLabel('E-mail').fill('ana@acme.test');
    await form.getByLabel('Role').selectOption('receptionist');
    await form.getByRole('button', { name: 'Create user' }).click();
    await form.waitFor({ state: 'detached' });
    await poll(() => table.locator('tbody tr').count()).toBe(3);
    const ana = await ui.sw.running.db.users.findByEmail('ana@acme.test');
    expect(ana).toMatchObject({ role: 'receptionist', tenantId: ui.sw.tenantId });
    expect(await ui.sw.running.db.users.verifyPassword('ana@acme.test', 'a-first-password')).toBeTruthy();
    await screenshot(page, 'users');

    await page.getByLabel('Role of ana@acme.test').selectOption('member');
    await poll(async () => (await ui.sw.running.db.users.get(ana!.id))?.role).toBe('member');
    await page.getByRole('button', { name: 'Disable ana@acme.test' }).click();
    await poll(async () => (await ui.sw.running.db.users.get(ana!.id))?.disabled).toBe(true);
    await page.getByRole('button', { name: 'Enable ana@acme.test' }).waitFor();
    await page.getByRole('button', { name: 'Remove ana@acme.test' }).click();
    await page.getByRole('dialog', { name: 'Remove ana@acme.test?' }).getByRole('button', { name: 'Remove user' }).click();
    await poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await ui.sw.running.db.users.get(ana!.id)).toBeUndefined();
    // No self-service role change or removal of one's own user.
    expect(await page.getByLabel('Role of admin@acme.test').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Remove admin@acme.test' }).count()).toBe(0);
    expect(unexpectedErrors(errors, [401, 409])).toEqual([]);
    await context.close();
  }, 90_000);

  it('API tokens: the token is shown once and works, the list shows scopes, last use and expiry, revoke ends it', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
    await nav(page).getByRole('link', { name: 'API tokens' }).click();
    await page.getByText('No API tokens').waitFor();
    await page.getByRole('button', { name: 'New token' }).click();
    const form = page.getByRole('form', { name: 'New token' });
    await form.getByRole('checkbox', { name: /^read/ }).uncheck();
    await form.getByRole('button', { name: 'Create token' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['Give it a name (1–255 characters) that says where it is used.', 'Pick at least one scope.']);
    await form.getByLabel('Name', { exact: true }).fill('CRM sync');
    await form.getByRole('checkbox', { name: /^read/ }).check();
    await form.getByLabel('Expires').selectOption('30');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').innerText()).trim();
    expect(token.length).toBeGreaterThan(20);
    await screenshot(page, 'tokens-created');

    // It really is an API token with the read scope: reads work, writes do not.
    const read = await fetch(`${origin}/api/v1/accounts`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    const write = await fetch(`${origin}/api/v1/secrets/x`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"value":"v"}' });
    expect(write.status).toBe(403);

    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    const table = page.getByRole('table', { name: 'API tokens' });
    await table.waitFor();
    // Shown once: after a reload the token is nowhere on the page.
    expect(await page.content()).not.toContain(token);
    const row = await table.locator('tbody tr').first().innerText();
    expect(row).toContain('CRM sync');
    expect(row).toContain('read');
    expect(row).not.toContain('never\tnever'); // used once above, and it expires
    const info = (await ui.sw.running.db.tokens.listForUser((await ui.sw.running.db.users.findByEmail('admin@acme.test'))!.id))[0]!;
    expect(info.lastUsedAt).not.toBeNull();
    expect(info.expiresAt! - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(info.expiresAt! - Date.now()).toBeLessThan(31 * 86_400_000);
    await screenshot(page, 'tokens');

    await page.getByRole('button', { name: 'Revoke CRM sync' }).click();
    await page.getByRole('dialog', { name: /Revoke/ }).getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('No API tokens').waitFor();
    expect((await fetch(`${origin}/api/v1/accounts`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);

  it('secrets: set (the value is never answered), replace, delete; names validated as the API does', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    const bodies: string[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/v1/')) void r.text().then((t) => bodies.push(t), () => {});
    });
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
    await nav(page).getByRole('link', { name: 'Secrets' }).click();
    await page.getByText('No secrets yet').waitFor();
    const form = page.getByRole('form', { name: 'Set a secret' });
    await form.getByLabel('Name', { exact: true }).fill('crm key');
    await form.getByRole('button', { name: 'Set secret' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['1–64 characters of A–Z a–z 0–9 _ . -', 'Enter the value to store.']);
    await form.getByLabel('Name', { exact: true }).fill('crm-key');
    await form.getByLabel('Value').fill('sk_live_first_value');
    await form.getByRole('button', { name: 'Set secret' }).click();
    const table = page.getByRole('table', { name: 'Secrets' });
    await table.waitFor();
    expect(await table.locator('tbody td.mono').allTextContents()).toEqual(['crm-key']);
    expect(await ui.sw.running.db.secrets.reveal(ui.sw.tenantId, 'crm-key')).toBe('sk_live_first_value');
    await screenshot(page, 'secrets');

    await page.getByRole('button', { name: 'Replace crm-key' }).click();
    await page.getByRole('form', { name: 'Set a secret' }).getByLabel('Value').fill('sk_live_second_value');
    await page.getByRole('form', { name: 'Set a secret' }).getByRole('button', { name: 'Replace' }).click();
    await poll(() => ui.sw.running.db.secrets.reveal(ui.sw.tenantId, 'crm-key')).toBe('sk_live_second_value');
    await page.getByRole('button', { name: 'Delete crm-key' }).click();
    await page.getByRole('dialog', { name: 'Delete secret crm-key?' }).getByRole('button', { name: 'Delete secret' }).click();
    await page.getByText('No secrets yet').waitFor();
    expect(await ui.sw.running.db.secrets.reveal(ui.sw.tenantId, 'crm-key')).toBeUndefined();
    await poll(() => bodies.length).toBeGreaterThan(4);
    expect(bodies.join('\n')).not.toMatch(/sk_live/);
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);

  it('providers: add one that registers with a real registrar, edit its password (write-only) and see it fail, delete', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
    await nav(page).getByRole('link', { name: 'Providers' }).click();
    await page.getByText('No providers yet').waitFor();
    await page.getByRole('button', { name: 'New provider' }).click();
    const form = page.getByRole('form', { name: 'New provider' });
    await form.getByLabel('Name', { exact: true }).fill('my trunk');
    await form.getByLabel('Server').fill('http://carrier');
    await form.getByLabel('Registration expiry (s)').fill('5');
    await form.getByRole('button', { name: 'Add provider' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual(['1–64 characters of A–Z a–z 0–9 _ . -', 'A sip: or sips: URI, e.g. sip:sip.carrier.example', 'Seconds, 30 to 86400.']);
    await form.getByLabel('Name', { exact: true }).fill('carrier');
    await form.getByLabel('Server').fill(`sip:127.0.0.1:${carrier.port}`);
    await form.getByLabel('User name').fill(TRUNK_USER);
    await form.getByLabel('Password', { exact: true }).fill(TRUNK_PASSWORD);
    await form.getByLabel('Registration expiry (s)').fill('300');
    await form.getByLabel('Register with this provider').check();
    // Call settings: the browser checks numbers and header lines; the API's own refusals land
    // beside their field too (nothing is stored until every field passes).
    await form.getByLabel('Provisional timeout (ms)').fill('40000');
    await form.getByLabel('Custom headers').fill('X-Account: 4930123456\nVia: SIP/2.0/UDP 203.0.113.9');
    await form.getByRole('button', { name: 'Add provider' }).click();
    expect(await form.getByRole('alert').allTextContents()).toEqual([
      'Milliseconds, 0 to 32000 (0 waits for Timer B), or empty for 5000.',
      'Line 2: Via is set by the switch and cannot be configured.',
    ]);
    await form.getByLabel('Provisional timeout (ms)').fill('2000');
    await form.getByLabel('Custom headers').fill('X-Account: 4930123456');
    await form.getByLabel('From host').fill('not a host!');
    await form.getByRole('button', { name: 'Add provider' }).click();
    await expect.poll(() => form.locator('.field-invalid').filter({ has: page.getByLabel('From host') }).getByRole('alert').textContent()).toContain('not a host name');
    await form.getByLabel('From host').fill(CARRIER_REALM);
    await form.getByLabel('Privacy').fill('bogus');
    await form.getByRole('button', { name: 'Add provider' }).click();
    await expect.poll(() => form.locator('.field-invalid').filter({ has: page.getByLabel('Privacy') }).getByRole('alert').textContent()).toContain('RFC 3323');
    expect(await ui.sw.running.db.providers.findByName(ui.sw.tenantId, 'carrier')).toBeUndefined();
    // The carrier's realm is its own: Patchbay must send From host = realm (set above, through the form).
    await form.getByLabel('Privacy').fill('none');
    await form.getByLabel('Number format').selectOption('e164');
    await form.getByLabel('Country code').fill('49');
    await form.getByRole('button', { name: 'Add provider' }).click();
    const table = page.getByRole('table', { name: 'Providers' });
    await table.waitFor();
    const provider = (await ui.sw.running.db.providers.findByName(ui.sw.tenantId, 'carrier'))!;
    expect(provider.settings).toEqual({ fromHost: CARRIER_REALM, privacy: 'none', numberFormat: 'e164', countryCode: '49', provisionalTimeoutMs: 2000 });
    expect(provider.customHeaders).toEqual({ 'X-Account': '4930123456' });
    const row = table.locator('tbody tr').filter({ hasText: 'carrier' });
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return row.innerText();
    }, { timeout: 20_000 }).toContain('registered');
    expect(await row.innerText()).toContain('set');
    expect(await page.content()).not.toContain(TRUNK_PASSWORD);
    await screenshot(page, 'providers');

    // Edit: the password field starts empty (never answered); a wrong one makes the registrar refuse.
    await page.getByRole('button', { name: 'Edit carrier' }).click();
    const edit = page.getByRole('form', { name: 'Edit provider carrier' });
    expect(await edit.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    expect(await edit.getByLabel('Server').inputValue()).toBe(`sip:127.0.0.1:${carrier.port}`);
    // The stored settings fill the form; emptying a field clears that setting (back to its default).
    expect(await edit.getByLabel('From host').inputValue()).toBe(CARRIER_REALM);
    expect(await edit.getByLabel('Number format').inputValue()).toBe('e164');
    expect(await edit.getByLabel('Custom headers').inputValue()).toBe('X-Account: 4930123456');
    await edit.getByLabel('Country code').fill('');
    await edit.getByLabel('Display name').fill('Acme Reception');
    await edit.getByLabel('Send P-Asserted-Identity').check();
    await edit.getByLabel('Custom headers').fill('X-Account: 4930123456\nX-Site: berlin');
    await edit.getByLabel('Password', { exact: true }).fill('not-the-password');
    await edit.getByRole('button', { name: 'Save provider' }).click();
    await edit.waitFor({ state: 'detached' });
    expect(await ui.sw.running.db.providers.revealPassword(provider.id)).toBe('not-the-password');
    const edited = (await ui.sw.running.db.providers.get(provider.id))!;
    expect(edited.settings).toEqual({ fromHost: CARRIER_REALM, displayName: 'Acme Reception', assertIdentity: true, privacy: 'none', numberFormat: 'e164', provisionalTimeoutMs: 2000 });
    expect(edited.customHeaders).toEqual({ 'X-Account': '4930123456', 'X-Site': 'berlin' });
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return row.innerText();
    }, { timeout: 20_000 }).toContain('needs attention');
    expect(await row.innerText()).toContain('403');

    await page.getByRole('button', { name: 'Delete carrier' }).click();
    await page.getByRole('dialog', { name: 'Delete provider carrier?' }).getByRole('button', { name: 'Delete provider' }).click();
    await page.getByText('No providers yet').waitFor();
    expect(await ui.sw.running.db.providers.findByName(ui.sw.tenantId, 'carrier')).toBeUndefined();
    // The two 400s are the API refusing the bad From host and Privacy above.
    expect(unexpectedErrors(errors, [400, 401])).toEqual([]);
    await context.close();
  }, 120_000);

  it('audit log: the changes above, filtered by action, actor and time; never another tenant\'s', async () => {
    const db = ui.sw.running.db;
    // Changes through the real API (audited in their transaction): add, replace, remove a secret.
    const admin = (await db.users.findByEmail('admin@acme.test'))!;
    const { token } = await db.tokens.create({ userId: admin.id, name: 'audit-seed', scopes: ['read', 'write'], expiresAt: Date.now() + 3600_000 });
    const call = (method: string, body?: unknown) =>
      fetch(`${origin}/api/v1/secrets/audited`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    expect((await call('PUT', { value: 'one' })).status).toBe(200);
    expect((await call('PUT', { value: 'two' })).status).toBe(200);
    expect((await call('DELETE')).status).toBe(204);
    await db.audit.record({ actor: 'theirs@other.test', action: 'secret.add', target: 'secret:theirs', tenantId: ui.otherTenantId });
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
    await nav(page).getByRole('link', { name: 'Audit log' }).click();
    const table = page.getByRole('table', { name: 'Audit log' });
    await table.waitFor();
    const filters = page.getByRole('form', { name: 'Filter audit log' });
    await filters.getByLabel('Action').fill('secret add');
    await filters.getByRole('button', { name: 'Apply' }).click();
    expect(await filters.getByRole('alert').innerText()).toBe('An action such as account.update, or a prefix such as account.*');
    await filters.getByLabel('Action').fill('secret.*');
    await filters.getByRole('button', { name: 'Apply' }).click();
    await poll(async () => [...new Set(await table.locator('tbody tr td:nth-child(3)').allTextContents())].sort()).toEqual(['secret.add', 'secret.remove', 'secret.replace']);
    expect(await table.innerText()).not.toContain('theirs');
    await screenshot(page, 'audit');
    await filters.getByLabel('Action').fill('');
    await filters.getByLabel('Actor').fill('desk@acme.test');
    await filters.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No entries match these filters.').waitFor();
    await filters.getByLabel('Actor').fill('admin@acme.test');
    await filters.getByLabel('From', { exact: true }).fill('2000-01-01T00:00');
    await filters.getByLabel('To', { exact: true }).fill('1999-01-01T00:00');
    await filters.getByRole('button', { name: 'Apply' }).click();
    expect(await filters.getByRole('alert').innerText()).toBe('Must be after “From”.');
    await filters.getByLabel('To', { exact: true }).fill('2000-02-01T00:00');
    await filters.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No entries match these filters.').waitFor();
    await filters.getByLabel('To', { exact: true }).fill('');
    await filters.getByRole('button', { name: 'Apply' }).click();
    await poll(async () => new Set(await table.locator('tbody tr td:nth-child(2)').allTextContents())).toEqual(new Set(['admin@acme.test']));
    expect(unexpectedErrors(errors)).toEqual([]);
    await context.close();
  }, 90_000);

  it('a receptionist gets only their pages; the admin pages refuse in the UI and the API', async () => {
    const { page, context } = await openPage(browser, origin);
    await signIn(page, 'desk@acme.test', 'desk-password', 'Switchboard', { exact: true });
    expect(await nav(page).getByRole('link').allTextContents()).toEqual(['Switchboard', 'Call records', 'API tokens']);
    for (const path of ['/users', '/secrets', '/providers', '/audit', '/tenants']) {
      await page.goto(path);
      await page.getByTestId('forbidden').waitFor();
    }
    const status = await page.evaluate(async () => (await fetch('/api/v1/users')).status);
    expect(status).toBe(403);
    await context.close();
  }, 60_000);

  it('is keyboard navigable with a visible focus ring, and fits a tablet', async () => {
    const { page, context } = await openPage(browser, origin, { width: 820, height: 1180 });
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
    await page.goto('/users');
    await page.getByRole('table', { name: 'Users' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(page, 'users-tablet');
    await page.goto('/tokens');
    await page.getByRole('button', { name: 'New token' }).waitFor();
    // Tab from the top: skip link, menu, brand, ... reaches "New token"; Enter opens the form with focus in it.
    let focused = '';
    for (let i = 0; i < 12 && focused !== 'New token'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    }
    expect(focused).toBe('New token');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).toBe('solid');
    await page.keyboard.press('Enter');
    await poll(() => page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('name');
    await context.close();
  }, 60_000);
});
