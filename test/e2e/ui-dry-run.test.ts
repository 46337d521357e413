import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors, signIn } from './ui-support/browser.ts';
import { setSource } from './ui-support/code-editor.ts';
import { startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';
import { registerListeningPhone, type ListeningPhone } from './ui-support/udp-phone.ts';

// The editor's dry-run panel against the real switch: the editor's unsaved content runs in the
// real sandbox, its Dial plays the outcomes set in the form, and no SIP message leaves the switch.

let browser: Browser;
let ui: UiSwitch;
let phone: ListeningPhone;

const SAVED = 'await sys.Respond(404, "Not here");\n';
const TWO_GROUPS = 'sys.Log(`routing ${req.uri.user}`);\nconst r = await sys.Dial("1002@local|1003@local");\nsys.Log(`dial ended ${r.status}`);\n';

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch(['1001', '1002', '1003']);
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.seedDialplan('routing', SAVED, { message: 'placeholder' });
  phone = await registerListeningPhone('1002', Number(ui.sw.target.split(':')[1]));
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  phone?.close();
  await browser?.close();
  await ui?.close();
});

describe('dialplan dry run in the editor', () => {
  it('runs the unsaved content: first group busy, second answers, 200, and nothing on the wire', async () => {
    const { page, context, requests, errors } = await openPage(browser, ui.origin);
    const stack = ui.sw.running.sip.stack;
    const sent: string[] = [];
    try {
      await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans');
      await page.getByRole('link', { name: 'routing' }).click();
      await page.locator('[data-testid=code-editor] .view-lines').waitFor();
      await setSource(page, TWO_GROUPS);

      // Keyboard: from the Source tab, arrow right twice to Dry run.
      await page.getByRole('tab', { name: /Source/ }).focus();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.getByRole('tab', { name: 'Dry run' }).getAttribute('aria-selected')).toBe('true');
      const form = page.getByRole('form', { name: 'Dry run' });
      await form.waitFor();
      await expect.poll(() => form.innerText()).toContain("the editor's unsaved content");

      await form.getByLabel('From account').fill('1001');
      await form.getByLabel('To', { exact: true }).fill('1002');
      await form.getByLabel('Pattern of row 1').fill('1002@local');
      await form.getByLabel('Outcome of row 1').selectOption('busy');
      await form.getByRole('button', { name: 'Add destination' }).click();
      await form.getByLabel('Pattern of row 2').fill('1003@local');
      await form.getByLabel('Outcome of row 2').selectOption('answer');
      await form.getByLabel('Seconds until row 2 happens').fill('4');

      stack.trafficObserver = (direction, data) => {
        if (direction === 'out') sent.push(data.toString('latin1'));
      };
      await form.getByRole('button', { name: 'Run' }).click();
      const response = page.getByTestId('dry-run-response');
      await response.waitFor();
      expect(await response.innerText()).toMatch(/200\s+OK/);
      const timeline = page.getByTestId('dry-run-timeline');
      const items = timeline.locator('> li');
      expect(await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')))).toEqual(['log', 'sys', 'dial', 'log']);
      expect(await items.nth(0).innerText()).toContain('routing 1002');
      expect(await items.nth(3).innerText()).toContain('dial ended 200');
      const legs = timeline.getByRole('table', { name: 'Legs of 1002@local|1003@local' });
      expect(await legs.locator('tr[data-destination="1002@local"] [data-testid=leg-result]').innerText()).toMatch(/failed 486 Busy Here/);
      expect(await legs.locator('tr[data-destination="1003@local"] [data-testid=leg-result]').innerText()).toMatch(/answered 200.*won/s);
      expect(await legs.locator('tr[data-destination="1003@local"]').innerText()).toContain('+4.0 s');
      expect(await page.getByTestId('dry-run-usage').innerText()).toMatch(/CPU \d+\.\d ms/);
      // The result as a user reads it right after Run: scrolled to its top.
      await page.locator('.dry-run-result').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await screenshot(page, 'dialplan-dry-run');

      await new Promise((r) => setTimeout(r, 300));
      expect(sent).toEqual([]);
      expect(phone.received).toEqual([]);
      // The run stored nothing: the saved version is still the placeholder.
      expect((await ui.sw.running.db.dialplans.getCurrent(ui.sw.tenantId, 'routing'))!.source).toBe(SAVED);
      expect(await ui.sw.running.db.cdrs.list({ tenantId: ui.sw.tenantId })).toEqual([]);

      // A field error lands beside its field.
      await form.getByLabel('To', { exact: true }).fill('not a number');
      await form.getByRole('button', { name: 'Run' }).click();
      await expect.poll(() => form.locator('.field-invalid .field-error').first().innerText().catch(() => '')).toMatch(/call\.to/);

      // A compile error in the unsaved content is listed with its line, and jumps there.
      await page.getByRole('tab', { name: /Source/ }).click();
      await setSource(page, 'sys.Log("a");\nconst x = ;\n');
      await page.getByRole('tab', { name: 'Dry run' }).click();
      await form.getByLabel('To', { exact: true }).fill('1002');
      await form.getByRole('button', { name: 'Run' }).click();
      const compileErrors = page.getByTestId('dry-run-compile-errors');
      await compileErrors.waitFor();
      await compileErrors.getByRole('button', { name: /Line 2, column/ }).click();
      await expect.poll(() => page.getByTestId('cursor-position').innerText()).toMatch(/^Ln 2,/);

      expect(foreignRequests(requests, ui.origin)).toEqual([]);
      expect(unexpectedErrors(errors, [401, 400, 422])).toEqual([]);
    } finally {
      stack.trafficObserver = undefined;
      await context.close();
    }
  }, 120_000);
});
