import { describe, expect, it } from 'vitest';
import { screenshot, unexpectedErrors } from './ui-support/browser.ts';
import { expectSippOk, PASSWORD, restApi } from './calls-support.ts';
import { callRow, tile, useSwitchboardFixture } from './ui-support/switchboard-fixture.ts';
import { sippRegister } from './ui-support/ui-switch.ts';

// The switchboard's phonebook, call notes and DND (issue 12) against the real switch.

const board = useSwitchboardFixture({ accounts: ['1000', '1001', '1004'], phones: ['1000', '1004'] });
const { phone, callIn, callInto, openBoard, ports } = board;

describe('switchboard extras (phonebook, notes, DND)', () => {
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

    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const reception = await phone('1000', 'call-uas-answer-late.xml');
    const { caller, callId } = await callInto(page, 'e2e-uac-auth-answer-bye.xml');
    await expect.poll(() => callRow(page, callId).locator('.caller-name').textContent()).toBe('Ada Lovelace');
    await screenshot(page, 'switchboard-phonebook');
    await expectSippOk(reception, caller);
    expect(unexpectedErrors(errors)).toEqual([]);
  }, 90_000);

  it('a note typed on a call follows it through a blind transfer and lands in the CDR', async () => {
    const { page } = await openBoard();
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const reception = await phone('1000', 'call-uas-answer.xml');
    const { caller, callId, row } = await callInto(page, 'transfer-uac-auth-reinvite-bye.xml', 'answered');
    await row.getByRole('button', { name: 'Add note' }).click();
    await row.getByLabel('Call note').fill('wants invoice 42 resent');
    await row.getByRole('button', { name: 'Save note' }).click();
    await expect.poll(() => row.getByTestId('call-note').textContent()).toContain('wants invoice 42 resent');
    const noted = await board.ui.sw.waitForEvent((e) => (e.type as string) === 'call.note' && e['callId'] === callId);
    expect(noted['by']).toBe('api:desk@acme.test');

    const target = await phone('1004', 'transfer-uas-late-offer.xml');
    await row.click();
    await page.keyboard.press('t');
    await page.getByLabel('Transfer to').fill('1004');
    await page.keyboard.press('Enter');
    await board.ui.sw.waitForEvent((e) => e.type === 'call.transferred' && e['callId'] === callId);
    expect(await row.getByTestId('call-note').textContent()).toContain('wants invoice 42 resent');
    await expectSippOk(reception, caller, target);
    const cdr = (await board.ui.sw.waitForCdr(callId)) as unknown as { note?: string } | undefined;
    expect(cdr?.note).toBe('wants invoice 42 resent');
  }, 60_000);

  it('DND from the page: the lamp shows it, a call to that extension takes the busy path, and it turns off again', async () => {
    ports['1004'] = await sippRegister(board.ui.sw.target, '1004', PASSWORD); // a phone there, whatever the tests before did to it
    const { page } = await openBoard();
    const dnd = tile(page, '1004').getByRole('button', { name: 'Do not disturb 1004' });
    expect(await dnd.getAttribute('aria-pressed')).toBe('false');
    await dnd.click();
    await expect.poll(() => tile(page, '1004').getAttribute('data-state')).toBe('dnd');
    expect(await dnd.getAttribute('aria-pressed')).toBe('true');
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1004@local");');
    await expectSippOk(await callIn('e2e-uac-auth-fail-486.xml'));
    await dnd.click();
    await expect.poll(() => tile(page, '1004').getAttribute('data-state')).toBe('idle');
    expect(await dnd.getAttribute('aria-pressed')).toBe('false');
  }, 60_000);

  it('an account made, labelled and removed through the API shows on an open board at once, with its label', async () => {
    const { page, errors } = await openBoard();
    await expect.poll(() => tile(page, '1000').getAttribute('data-state')).toBe('idle');
    const { tokenFor, api } = restApi(board.ui.sw);
    const admin = await tokenFor('lamps-admin@acme.test', board.ui.sw.tenantId, 'admin');
    const made = await api(admin, 'POST', '/accounts', { username: '1009', password: 'a-long-sip-password', displayName: 'Warehouse' });
    expect(made.status).toBe(201);
    const { account: { id } } = (await made.json()) as { account: { id: number } };
    // Offline until a phone registers, labelled, without a reload of the page.
    await expect.poll(() => tile(page, '1009').getAttribute('data-state')).toBe('offline');
    expect(await tile(page, '1009').locator('.blf-label').innerText()).toBe('Warehouse');
    expect((await api(admin, 'PATCH', `/accounts/${id}`, { displayName: 'Loading bay' })).status).toBe(200);
    await expect.poll(() => tile(page, '1009').locator('.blf-label').innerText()).toBe('Loading bay');
    // A label longer than the tile stays on one line, cut with an ellipsis, the whole of it in the tooltip.
    const long = 'Loading bay north: goods in, pallets, returns and the courier desk';
    expect((await api(admin, 'PATCH', `/accounts/${id}`, { displayName: long })).status).toBe(200);
    const label = tile(page, '1009').locator('.blf-label');
    await expect.poll(() => label.getAttribute('title')).toBe(long);
    const fit = await label.evaluate((el) => {
      const name = el.parentElement!;
      return { cut: el.scrollWidth > el.clientWidth, overflow: getComputedStyle(el).textOverflow, height: name.getBoundingClientRect().height, lineHeight: parseFloat(getComputedStyle(name).lineHeight) };
    });
    expect(fit).toMatchObject({ cut: true, overflow: 'ellipsis' });
    expect(Math.abs(fit.height - fit.lineHeight)).toBeLessThan(1);
    await page.getByLabel('Search extensions').fill('loading');
    await expect.poll(() => page.locator('[data-extension]').count()).toBe(1);
    await screenshot(page, 'switchboard-extension-label');
    await page.getByLabel('Search extensions').fill('');
    expect((await api(admin, 'DELETE', `/accounts/${id}`)).status).toBe(204);
    await expect.poll(() => tile(page, '1009').count()).toBe(0);
    expect(unexpectedErrors(errors)).toEqual([]);
  }, 60_000);
});
