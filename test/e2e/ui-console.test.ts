import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors, signIn } from './ui-support/browser.ts';
import { expectSippOk, PASSWORD, startSipp } from './calls-support.ts';
import { DOMAIN, sippRegister, startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// The live console against the real switch: a real sipp call (1001 → dialplan → 1002) shows up
// as it happens from the sip.trace and dialplan.log events, and its ladder has both legs with
// the dialplan's log line between them.

let browser: Browser;
let ui: UiSwitch;
let calleePort: number;

const OUT = 'sys.Log(`routing to ${req.uri.user}`);\nawait sys.Dial(`${req.uri.user}@local`);\n';

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch(['1001', '1002']);
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.addUser('desk@acme.test', 'desk-password', 'receptionist');
  await ui.sw.running.db.users.add({ email: 'op@ops.test', password: 'operator-password', role: 'operator', tenantId: null });
  const memberId = await ui.addUser('member@acme.test', 'member-password', 'member');
  await ui.seedDialplan('out', OUT);
  await ui.sw.running.db.accounts.update('1001', DOMAIN, { outDialplan: 'out', ownerUserId: memberId });
  ui.sw.running.sip.directory.invalidate();
  calleePort = await sippRegister(ui.sw.target, '1002', PASSWORD);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

describe('live console', () => {
  it('shows a sipp call live; its ladder has both legs with the dialplan log line between them', async () => {
    const { page, context, requests, errors } = await openPage(browser, ui.origin);
    try {
      await signIn(page, 'admin@acme.test', 'admin-password', 'Live console', { path: '/console' });
      await expect.poll(() => page.getByTestId('stream-state').innerText()).toBe('Live');
      // The switch traces only while someone watches: give the hub the subscription before calling.
      await expect.poll(() => ui.sw.running.sip.stack.trafficObserver !== undefined).toBe(true);

      const callee = await startSipp('call-uas-answer.xml', { port: calleePort });
      const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: ui.sw.target, service: '1002', user: '1001' });
      const table = page.getByRole('table', { name: 'Live messages' });
      // Live: the INVITE to 1002 and the log line appear while the call is up.
      await table.locator('tr', { hasText: 'INVITE sip:1002@' }).first().waitFor({ timeout: 15_000 });
      await table.locator('tr[data-kind=log]', { hasText: 'routing to 1002' }).waitFor();
      await expectSippOk(caller, callee);
      await table.locator('tr', { hasText: /^.*BYE/ }).first().waitFor();

      // Filters: method, status class, regex (an invalid one is a field error).
      await page.getByLabel('Method').selectOption('BYE');
      await expect.poll(async () => (await table.locator('tbody tr').allInnerTexts()).every((t) => /BYE/.test(t))).toBe(true);
      await page.getByLabel('Method').selectOption('');
      await page.getByLabel('Status').selectOption('1');
      await expect.poll(async () => (await table.locator('tbody tr').allInnerTexts()).every((t) => /\b1\d\d\b/.test(t))).toBe(true);
      await page.getByLabel('Status').selectOption('');
      await page.getByLabel('Regex').check();
      await page.getByLabel('Text', { exact: true }).fill('routing (to');
      await expect.poll(() => page.locator('#f-text-error').innerText().catch(() => '')).toMatch(/Not a valid regular expression/);
      await page.getByLabel('Text', { exact: true }).fill('routing to 10+2');
      await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
      await page.getByLabel('Text', { exact: true }).fill('');
      await page.getByLabel('Regex').uncheck();
      await screenshot(page, 'console-stream');

      // Pause holds new rows back; resume shows them.
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.getByRole('button', { name: /^Resume/ }).click();

      // The ladder of the call.
      await table.locator('tr[data-kind=log]', { hasText: 'routing to 1002' }).getByRole('button').click();
      const ladder = page.getByTestId('ladder');
      await ladder.waitFor();
      const columns = await ladder.locator('[data-column]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-column')));
      expect(columns).toEqual(['caller', 'patchbay', 'callee']);
      const items = await ladder.locator('g[data-kind]').evaluateAll((gs) =>
        gs.map((g) => ({ kind: g.getAttribute('data-kind'), leg: g.getAttribute('data-leg'), label: g.getAttribute('aria-label') ?? g.textContent ?? '' })),
      );
      const firstA = items.findIndex((i) => i.leg === 'a' && /^Received INVITE/.test(i.label));
      const log = items.findIndex((i) => i.kind === 'log' && i.label.includes('routing to 1002'));
      const firstB = items.findIndex((i) => i.leg === 'b' && /^Sent INVITE sip:1002@/.test(i.label));
      expect(firstA).toBeGreaterThanOrEqual(0);
      expect(log).toBeGreaterThan(firstA);
      expect(firstB).toBeGreaterThan(log);
      // Both legs end with BYE and its 200.
      expect(items.some((i) => i.leg === 'a' && /BYE/.test(i.label))).toBe(true);
      expect(items.some((i) => i.leg === 'b' && /BYE/.test(i.label))).toBe(true);

      // Click a message: its full text.
      await ladder.locator('g[data-leg=b]', { hasText: 'INVITE sip:1002@' }).first().click();
      const detail = page.getByTestId('message-text');
      expect(await detail.locator('pre').innerText()).toMatch(/^INVITE sip:1002@[\s\S]*Call-ID:[\s\S]*v=0/m);
      // Keyboard: focus the next message and open it with Enter.
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await expect.poll(() => detail.locator('pre').innerText()).not.toMatch(/^INVITE sip:1002@/);
      await ladder.locator('g[data-leg=b]', { hasText: 'INVITE sip:1002@' }).first().click();
      await screenshot(page, 'console-ladder');

      // Export as text: every message in full and the log line.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export as text' }).click()]);
      const text = await readFile((await download.path())!, 'utf8');
      expect(text).toContain('dialplan out info: routing to 1002');
      expect(text).toMatch(/sent UDP .* leg b \(local:1002\)|sent UDP .* leg b/);
      expect(text).toContain('INVITE sip:1002@');

      await page.getByRole('button', { name: /Back to the stream/ }).click();
      await page.getByRole('button', { name: 'Clear' }).click();
      await expect.poll(() => page.getByTestId('row-count').innerText()).toMatch(/^0 of 0 rows/);

      expect(foreignRequests(requests, ui.origin)).toEqual([]);
      expect(unexpectedErrors(errors)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('gives a member the dialplan log of their own calls, and no SIP trace', async () => {
    const { page, context, errors } = await openPage(browser, ui.origin);
    try {
      await signIn(page, 'member@acme.test', 'member-password', 'Live console', { path: '/console' });
      await expect.poll(() => page.getByTestId('stream-state').innerText()).toBe('Live');
      const callee = await startSipp('call-uas-answer.xml', { port: calleePort });
      const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: ui.sw.target, service: '1002', user: '1001' });
      await expectSippOk(caller, callee);
      const table = page.getByRole('table', { name: 'Live messages' });
      await table.locator('tr[data-kind=log]', { hasText: 'routing to 1002' }).waitFor();
      // The call has ended and its events are all out; none of them is a SIP message.
      await ui.sw.waitForCdrs(2);
      expect(await table.locator('tr[data-kind=sip]').count()).toBe(0);
      expect(unexpectedErrors(errors)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);

  it('lets an operator pick the tenant in the top bar, and shows only that tenant\'s calls', async () => {
    const { page, context, errors } = await openPage(browser, ui.origin);
    try {
      await signIn(page, 'op@ops.test', 'operator-password', 'Live console', { path: '/console' });
      // No tenant chosen yet: the console asks for one instead of a free-typed id.
      await page.getByTestId('choose-tenant').waitFor();
      expect(await page.getByLabel('Tenant id').count()).toBe(0);
      await page.getByLabel('Working on tenant').selectOption(String(ui.sw.tenantId));
      await expect.poll(() => page.getByTestId('stream-state').innerText()).toBe('Live');
      expect(await page.locator('.console-sub').innerText()).toContain(DOMAIN);
      await expect.poll(() => ui.sw.running.sip.stack.trafficObserver !== undefined).toBe(true);
      const table = page.getByRole('table', { name: 'Live messages' });
      let cdrs = (await ui.sw.running.db.cdrs.list({ tenantId: ui.sw.tenantId })).length;
      {
        const callee = await startSipp('call-uas-answer.xml', { port: calleePort });
        const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: ui.sw.target, service: '1002', user: '1001' });
        await table.locator('tr', { hasText: 'INVITE sip:1002@' }).first().waitFor({ timeout: 15_000 });
        await table.locator('tr[data-kind=log]', { hasText: 'routing to 1002' }).waitFor();
        await expectSippOk(caller, callee);
        cdrs += 1;
        expect((await ui.sw.waitForCdrs(cdrs)).length).toBeGreaterThanOrEqual(cdrs);
      }

      // Another tenant in the picker: a fresh stream of that tenant; acme's next call is not in it.
      await page.getByLabel('Working on tenant').selectOption(String(ui.otherTenantId));
      await expect.poll(() => page.getByTestId('row-count').innerText()).toMatch(/^0 of 0 rows/);
      await expect.poll(() => page.getByTestId('stream-state').innerText()).toBe('Live');
      {
        const callee = await startSipp('call-uas-answer.xml', { port: calleePort });
        const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: ui.sw.target, service: '1002', user: '1001' });
        await expectSippOk(caller, callee);
        cdrs += 1;
        expect((await ui.sw.waitForCdrs(cdrs)).length).toBeGreaterThanOrEqual(cdrs);
      }
      expect(await table.locator('tbody tr').count()).toBe(0);
      expect(await page.getByTestId('row-count').innerText()).toMatch(/^0 of 0 rows/);
      expect(unexpectedErrors(errors)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('is not offered to a receptionist', async () => {
    const { page, context } = await openPage(browser, ui.origin);
    try {
      await page.goto('/console');
      await page.getByLabel('E-mail').fill('desk@acme.test');
      await page.getByLabel('Password').fill('desk-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('forbidden').waitFor();
      expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).not.toContain('Live console');
    } finally {
      await context.close();
    }
  }, 60_000);
});
