import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { ensureUiBuilt, foreignRequests, launchChromium, openPage, screenshot, unexpectedErrors, signIn } from './ui-support/browser.ts';
import { setSource, suggestionDetails } from './ui-support/code-editor.ts';
import { expectSippOk, startSipp } from './calls-support.ts';
import { DOMAIN, startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// The dialplan editor against the real switch (saves run the sandbox's real compiler, versions
// are stored): Monaco with the sandbox's dialplan.d.ts, compile errors as markers, versions,
// diff, rollback, create and delete.

let browser: Browser;
let ui: UiSwitch;
let origin: string;

const V1 = 'sys.Log("first version");\nawait sys.Dial(`${req.uri.user}@local`);\n';

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch(['1001', '1002']);
  origin = ui.origin;
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.seedDialplan('outgoing', V1, { message: 'first cut' });
  await ui.seedDialplan('secret-plan', 'await sys.Respond(403, "no");\n', { tenantId: ui.otherTenantId });
  const db = ui.sw.running.db;
  await db.accounts.update('1001', DOMAIN, { outDialplan: 'outgoing' });
  await db.accounts.update('1002', DOMAIN, { inDialplan: 'outgoing' });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

/** The stored versions of a dialplan of the test tenant, oldest first, with their sources. */
async function storedVersions(name: string) {
  const db = ui.sw.running.db;
  const summaries = await db.dialplans.listVersions(ui.sw.tenantId, name);
  return Promise.all(summaries.reverse().map(async (v) => (await db.dialplans.getVersion(ui.sw.tenantId, name, v.version))!));
}

/**
 * The messages of the first markers from the top, read from Monaco's marker widget (F8 steps
 * through them); diagnostics arrive asynchronously, so callers poll.
 */
async function firstMarkers(page: Page, count = 1): Promise<string> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('ControlOrMeta+Home');
  const seen: string[] = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press('F8');
    // The widget can close again when fresh diagnostics arrive: read it without waiting for it.
    const text = await page.locator('.marker-widget').first().innerText({ timeout: 500 }).catch(() => '');
    if (text) seen.push(text);
  }
  return seen.join('\n---\n');
}

/** Monaco renders spaces as U+00A0. */
async function linesText(lines: Locator): Promise<string> {
  return (await lines.innerText()).replace(/\u00a0/g, ' ');
}

async function editorText(page: Page): Promise<string> {
  return linesText(page.locator('[data-testid=code-editor] .view-lines'));
}

describe('dialplan editor', () => {
  it('completes and checks against dialplan.d.ts, marks compile errors, saves, diffs, rolls back', async () => {
    const { page, context, requests, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans');
    // Another tenant's dialplan is not listed.
    expect(await page.getByRole('table', { name: 'Dialplans' }).getByRole('link').allTextContents()).toEqual(['outgoing']);
    await screenshot(page, 'dialplans');
    await page.getByRole('link', { name: 'outgoing' }).click();
    await page.locator('.monaco-editor').waitFor();
    await expect.poll(() => editorText(page)).toContain('first version');
    expect(await page.getByTestId('used-by').textContent()).toBe('Used by 1001@acme.test (outgoing), 1002@acme.test (incoming)');

    // Completion of sys. members with their doc comments from the sandbox's dialplan.d.ts.
    await page.locator('[data-testid=code-editor] .view-lines').click();
    await page.keyboard.press('ControlOrMeta+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('sys.Dia');
    const suggestion = page.locator('.suggest-widget .monaco-list-row', { hasText: 'Dial' }).first();
    await suggestion.waitFor({ timeout: 15_000 });
    // The details pane shows the doc comment.
    await expect.poll(suggestionDetails(page), { timeout: 15_000, interval: 500 }).toContain('Places the call described by');
    await screenshot(page, 'editor-completion');
    await page.keyboard.press('Enter');
    await expect.poll(() => editorText(page)).toContain('sys.Dial');

    // A type error is underlined while typing, with the checker's message.
    await setSource(page, 'const n: number = sys.Dial("1001@local");\nsys.Log(req.uri.user);\n');
    await expect.poll(() => firstMarkers(page), { timeout: 15_000 }).toContain("Type 'Promise<DialResult>' is not assignable to type 'number'");
    await page.locator('[data-testid=code-editor] .squiggly-error').first().waitFor();
    await page.keyboard.press('Escape');

    // A syntax error on save: 422, a marker at esbuild's line and column, nothing stored.
    await setSource(page, 'sys.Log("start");\nconst r = await sys.Dial("1001@local");\nif (r.answered {\n  sys.Log("answered");\n}\n');
    await page.getByLabel('Version message').fill('broken');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('save-status').textContent()).toBe('Not saved: 1 compile error');
    const compileAlert = page.locator('.compile-errors');
    expect(await compileAlert.innerText()).toContain('Line 3, column 16: Expected ")" but found "{"');
    expect(await storedVersions('outgoing')).toHaveLength(1);
    await page.locator('[data-testid=code-editor] .view-lines').click();
    // The save's marker (esbuild's message) sits beside the TypeScript checker's own.
    await expect.poll(() => firstMarkers(page, 2)).toContain('Expected ")" but found "{"');
    await expect.poll(() => page.getByTestId('cursor-position').textContent()).toBe('Ln 3, Col 16');
    await screenshot(page, 'editor-compile-error');
    await page.keyboard.press('Escape');
    // The error list jumps to its line too.
    await page.keyboard.press('ControlOrMeta+End');
    await compileAlert.getByRole('button', { name: 'Line 3, column 16' }).click();
    await expect.poll(() => page.getByTestId('cursor-position').textContent()).toBe('Ln 3, Col 16');

    // Fixed, saved with a message (Ctrl+S), listed as a version.
    const v2 = 'sys.Log("second version");\nconst r = await sys.Dial("1001@local");\nif (!r.answered) await sys.Dial("1002@local");\n';
    await setSource(page, v2);
    await page.getByLabel('Version message').fill('Dial 1001, then 1002');
    await page.locator('[data-testid=code-editor] .view-lines').click();
    await page.keyboard.press('ControlOrMeta+S');
    await expect.poll(() => page.getByTestId('save-status').textContent()).toBe('Saved as v2');
    expect(await page.getByTestId('current-version').textContent()).toBe('v2');
    expect(await page.locator('.compile-errors').count()).toBe(0);
    const stored = await storedVersions('outgoing');
    expect(stored.map((v) => [v.version, v.message, v.author])).toEqual([[1, 'first cut', 'seed@acme.test'], [2, 'Dial 1001, then 1002', 'admin@acme.test']]);
    expect(stored[1]!.source).toBe(v2);

    await page.getByRole('tab', { name: 'History' }).click();
    const versions = page.getByRole('table', { name: 'Versions' });
    await versions.waitFor();
    expect(await versions.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-version')))).toEqual(['2', '1']);
    expect(await versions.locator('tr[data-version="2"]').innerText()).toContain('Dial 1001, then 1002');
    expect(await versions.locator('tr[data-version="2"]').innerText()).toContain('admin@acme.test');

    // Side-by-side diff of v1 and v2 in Monaco's diff editor.
    await page.getByLabel('Compare').selectOption('1');
    await page.getByLabel('with').selectOption('2');
    await page.getByRole('button', { name: 'Show diff' }).click();
    const diff = page.getByTestId('diff-editor');
    await diff.locator('.monaco-diff-editor').waitFor();
    await expect.poll(() => linesText(diff.locator('.editor.original .view-lines'))).toContain('first version');
    await expect.poll(() => linesText(diff.locator('.editor.modified .view-lines'))).toContain('second version');
    await expect.poll(() => diff.locator('.line-insert, .char-insert').count()).toBeGreaterThan(0);
    await screenshot(page, 'editor-diff');

    // Rollback in one click, after a confirmation: a new v3 with v1's source.
    await versions.getByRole('button', { name: 'Roll back to v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back to v1?' });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('saves a new version v3');
    await dialog.getByRole('button', { name: 'Roll back to v1' }).click();
    await expect.poll(() => page.getByTestId('current-version').textContent()).toBe('v3');
    expect((await storedVersions('outgoing')).at(-1)!.source).toBe(V1);
    // The next call runs the rolled-back version (a sipp call from 1001, whose outgoing dialplan
    // this is): v1's log line, not v2's; 1002 is not registered, so v1's Dial ends in 480.
    const before = ui.sw.events.length;
    await expectSippOk(await startSipp('e2e-uac-auth-fail-480.xml', { remote: ui.sw.target, service: '1002', user: '1001' }));
    const logs = ui.sw.events.slice(before).filter((e) => e.type === 'dialplan.log').map((e) => e['message']);
    expect(logs).toContain('first version');
    expect(logs).not.toContain('second version');
    await expect.poll(() => versions.locator('tbody tr').count()).toBe(3);
    await page.getByRole('tab', { name: 'Source' }).click();
    await expect.poll(() => editorText(page)).toContain('first version');

    expect(foreignRequests(requests, origin)).toEqual([]);
    // Monaco's workers came from the switch itself.
    expect(requests.some((url) => /\/assets\/ts\.worker-[\w-]+\.js$/.test(url))).toBe(true);
    expect(unexpectedErrors(errors, [401, 422])).toEqual([]);
    await context.close();
  }, 90_000);

  it('creates and deletes a dialplan', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans');
    await page.getByRole('button', { name: 'New dialplan' }).click();
    const form = page.getByRole('form', { name: 'New dialplan' });
    await form.getByLabel('Name').fill('bad name!');
    await form.getByRole('button', { name: 'Create' }).click();
    expect(await form.getByRole('alert').innerText()).toContain('letters, digits');
    await form.getByLabel('Name').fill('outgoing');
    await form.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => form.getByRole('alert').innerText()).toContain('exists already');

    await form.getByLabel('Name').fill('reception');
    await form.getByLabel('Language').selectOption('js');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.locator('.monaco-editor').waitFor();
    expect(new URL(page.url()).pathname).toBe('/dialplans/reception');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain('JavaScript');
    expect((await storedVersions('reception'))[0]?.language).toBe('js');
    await expect.poll(() => editorText(page)).toContain('sys.Dial');
    const STARTER_JS = (await storedVersions('reception'))[0]!.source;
    await screenshot(page, 'editor');

    // JavaScript dialplans are checked against the same types.
    await setSource(page, 'await sys.Dial(42);\n');
    await expect.poll(() => firstMarkers(page), { timeout: 15_000 }).toContain("Argument of type 'number' is not assignable to parameter of type 'string'");
    // A compile error on line 1: its column is the user's, not shifted by the sandbox's wrapper.
    await setSource(page, 'const x = ;\n');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('.compile-errors').innerText()).toContain('Line 1, column 11: Unexpected ";"');
    await setSource(page, `${STARTER_JS}sys.Log("v2");\n`);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('save-status').textContent()).toBe('Saved as v2');

    // Unsaved edits: leaving through the app asks first; "stay" keeps the page and the edit.
    await page.locator('[data-testid=code-editor] .view-lines').click();
    await page.keyboard.press('ControlOrMeta+End');
    await page.keyboard.insertText('// not saved yet\n');
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await expect.poll(() => asked).toEqual(['reception has unsaved changes. Leave without saving?']);
    expect(new URL(page.url()).pathname).toBe('/dialplans/reception');
    expect(await editorText(page)).toContain('// not saved yet');

    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete reception?' });
    await dialog.getByRole('button', { name: 'Delete dialplan' }).click();
    await page.getByRole('heading', { name: 'Dialplans' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dialplans');
    expect(await storedVersions('reception')).toEqual([]);
    expect(await page.getByRole('table', { name: 'Dialplans' }).getByRole('link').allTextContents()).not.toContain('reception');

    // Another tenant's dialplan by URL: not found, nothing shown of it.
    await page.goto('/dialplans/secret-plan');
    await page.getByText('There is no dialplan named secret-plan.').waitFor();
    expect(unexpectedErrors(errors, [401, 404, 422])).toEqual([]);
    await context.close();
  }, 90_000);

  it('knows only the globals the sandbox leaves: removed ones are errors, sys.Dial still completes', async () => {
    const { page, context, errors } = await openPage(browser, origin);
    await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans');
    await page.getByRole('link', { name: 'outgoing' }).click();
    await page.locator('.monaco-editor').waitFor();
    await expect.poll(() => editorText(page)).toContain('sys.Dial');
    // WeakRef, timers, shared memory: gone from the isolate (isolate-setup.ts), so underlined.
    // The last lines use ES2023 and Intl, which the isolate has: no marker for them.
    await setSource(page, [
      'const ref = new WeakRef({});',
      'setTimeout(() => sys.Log("later"), 10);',
      'const shared = new SharedArrayBuffer(8);',
      'const registry = new FinalizationRegistry(() => {});',
      'sys.Log(String([1, 2, 3].findLast((n) => n > 1)) + new Intl.NumberFormat("en").format(1) + Object.hasOwn({}, "a"));',
      '',
    ].join('\n'));
    const expected = ["Cannot find name 'WeakRef'", "Cannot find name 'setTimeout'", "Cannot find name 'SharedArrayBuffer'", "Cannot find name 'FinalizationRegistry'"];
    await expect.poll(async () => {
      const text = await firstMarkers(page, 5);
      return expected.filter((message) => text.includes(message));
    }, { timeout: 15_000 }).toEqual(expected);
    await expect.poll(() => page.locator('[data-testid=code-editor] .squiggly-error').count()).toBe(4);
    await page.keyboard.press('Escape');

    // sys.Dial completes with its doc comment, as before.
    await page.keyboard.press('ControlOrMeta+End');
    await page.keyboard.type('sys.Dia');
    await page.locator('.suggest-widget .monaco-list-row', { hasText: 'Dial' }).first().waitFor({ timeout: 15_000 });
    await expect.poll(suggestionDetails(page), { timeout: 15_000, interval: 500 }).toContain('Places the call described by');
    expect(unexpectedErrors(errors, [401])).toEqual([]);
    await context.close();
  }, 90_000);
});
