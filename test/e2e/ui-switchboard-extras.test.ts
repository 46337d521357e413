import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { ensureUiBuilt, launchChromium, openPage, screenshot, unexpectedErrors, type WatchedPage } from './ui-support/browser.ts';
import { expectSippOk, PASSWORD, startSipp, type SippProcess, type SippStartOptions } from './calls-support.ts';
import { sippRegister, startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// The switchboard's phonebook, call notes and DND (issue 12) against the real switch.

let browser: Browser;
let ui: UiSwitch;
const ports: Record<string, number> = {};
const started: SippProcess[] = [];
const pages: WatchedPage[] = [];

async function sipp(scenario: string, opts: SippStartOptions = {}): Promise<SippProcess> {
  const p = await startSipp(scenario, opts);
  started.push(p);
  return p;
}
const phone = (user: string, scenario: string) => sipp(scenario, { port: ports[user] });
const callIn = (scenario: string) => sipp(scenario, { remote: ui.sw.target, service: '2000', user: '1001' });
const callRow = (page: Page, callId: string): Locator => page.locator(`[data-call-id="${callId}"]`);
const tile = (page: Page, user: string): Locator => page.getByRole('list', { name: 'Extensions' }).locator(`[data-extension="${user}"]`);

function nextCallId(): Promise<string> {
  const before = ui.sw.events.length;
  return ui.sw.waitForEvent((e) => e.type === 'call.created' && ui.sw.events.indexOf(e) >= before).then((e) => String(e['callId']));
}

async function openBoard(): Promise<WatchedPage> {
  const watched = await openPage(browser, ui.origin);
  pages.push(watched);
  const { page } = watched;
  await page.goto('/switchboard');
  await page.getByLabel('E-mail').fill('desk@acme.test');
  await page.getByLabel('Password').fill('desk-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Switchboard' }).waitFor();
  await expect.poll(() => page.getByTestId('stream-state').textContent()).toBe('Live');
  await page.getByLabel('My extension').selectOption('1000');
  return watched;
}

describe('switchboard extras (phonebook, notes, DND)', () => {
  beforeAll(async () => {
    await ensureUiBuilt();
    ui = await startUiSwitch(['1000', '1001', '1004']);
    await ui.addUser('desk@acme.test', 'desk-password', 'receptionist');
    await ui.sw.useNamedDialplan('transfer', 'await sys.Dial(`${req.uri.user}@local`);');
    for (const user of ['1000', '1004']) ports[user] = await sippRegister(ui.sw.target, user, PASSWORD);
    browser = await launchChromium();
  }, 180_000);

  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
    for (const p of pages.splice(0)) await p.context.close();
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.close();
  });

  it('imports a CSV phonebook, searches it, exports it, and shows the caller\'s name on the call', async () => {
    const { page, errors } = await openBoard();
    const book = page.getByRole('region', { name: 'Phonebook' });
    await book.getByLabel('Import CSV').setInputFiles({
      name: 'contacts.csv', mimeType: 'text/csv',
      buffer: Buffer.from('name,company,numbers,note\nAda Lovelace,Analytical Engines,1001;+442079460000,prefers mornings\nGrace Hopper,Navy,+15551234567,\n'),
    });
    await expect.poll(() => page.getByTestId('import-result').innerText()).toContain('Imported: 2 new, 0 updated');
    await book.getByLabel('Search the phonebook').fill('lovelace');
    const contacts = book.getByRole('list', { name: 'Contacts' });
    await expect.poll(() => contacts.locator('li').count()).toBe(1);
    expect(await contacts.innerText()).toMatch(/Ada Lovelace[\s\S]*Analytical Engines[\s\S]*1001, \+442079460000[\s\S]*prefers mornings/);
    const href = await book.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    const csv = await page.evaluate(async (h) => (await fetch(h!)).text(), href);
    expect(csv.split(/\r?\n/)[0]).toBe('name,company,numbers,note');
    expect(csv).toContain('Ada Lovelace,Analytical Engines,1001;+442079460000,prefers mornings');

    // New contact through the form.
    await book.getByRole('button', { name: 'New contact' }).click();
    const form = book.getByRole('form', { name: 'New contact' });
    await form.getByLabel('Name').fill('Alan Turing');
    await form.getByLabel('Numbers').fill('+441619999999');
    await form.getByRole('button', { name: 'Save contact' }).click();
    await book.getByLabel('Search the phonebook').fill('turing');
    await expect.poll(() => contacts.innerText()).toContain('Alan Turing');

    await ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const reception = await phone('1000', 'call-uas-answer-late.xml');
    const created = nextCallId();
    const caller = await callIn('e2e-uac-auth-answer-bye.xml');
    const callId = await created;
    await expect.poll(() => callRow(page, callId).locator('.caller-name').textContent()).toBe('Ada Lovelace');
    await screenshot(page, 'switchboard-phonebook');
    await expectSippOk(reception, caller);
    expect(unexpectedErrors(errors)).toEqual([]);
  }, 90_000);

  it('a note typed on a call follows it through a blind transfer and lands in the CDR', async () => {
    const { page } = await openBoard();
    await ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const reception = await phone('1000', 'call-uas-answer.xml');
    const created = nextCallId();
    const caller = await callIn('transfer-uac-auth-reinvite-bye.xml');
    const callId = await created;
    const row = callRow(page, callId);
    await expect.poll(() => row.getAttribute('data-phase')).toBe('answered');
    await row.getByRole('button', { name: 'Add note' }).click();
    await row.getByLabel('Call note').fill('wants invoice 42 resent');
    await row.getByRole('button', { name: 'Save note' }).click();
    await expect.poll(() => row.getByTestId('call-note').textContent()).toContain('wants invoice 42 resent');
    const noted = await ui.sw.waitForEvent((e) => (e.type as string) === 'call.note' && e['callId'] === callId);
    expect(noted['by']).toBe('api:desk@acme.test');

    const target = await phone('1004', 'transfer-uas-late-offer.xml');
    await row.click();
    await page.keyboard.press('t');
    await page.getByLabel('Transfer to').fill('1004');
    await page.keyboard.press('Enter');
    await ui.sw.waitForEvent((e) => e.type === 'call.transferred' && e['callId'] === callId);
    expect(await row.getByTestId('call-note').textContent()).toContain('wants invoice 42 resent');
    await expectSippOk(reception, caller, target);
    const cdr = (await ui.sw.waitForCdr(callId)) as unknown as { note?: string } | undefined;
    expect(cdr?.note).toBe('wants invoice 42 resent');
  }, 60_000);

  it('DND from the page: the lamp shows it, a call to that extension takes the busy path, and it turns off again', async () => {
    ports['1004'] = await sippRegister(ui.sw.target, '1004', PASSWORD); // a phone there, whatever the tests before did to it
    const { page } = await openBoard();
    const dnd = tile(page, '1004').getByRole('button', { name: 'Do not disturb 1004' });
    expect(await dnd.getAttribute('aria-pressed')).toBe('false');
    await dnd.click();
    await expect.poll(() => tile(page, '1004').getAttribute('data-state')).toBe('dnd');
    expect(await dnd.getAttribute('aria-pressed')).toBe('true');
    await ui.sw.useOutDialplan('1001', 'await sys.Dial("1004@local");');
    await expectSippOk(await callIn('e2e-uac-auth-fail-486.xml'));
    await dnd.click();
    await expect.poll(() => tile(page, '1004').getAttribute('data-state')).toBe('idle');
    expect(await dnd.getAttribute('aria-pressed')).toBe('false');
  }, 60_000);
});
