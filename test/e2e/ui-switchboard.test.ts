import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { foreignRequests, screenshot, unexpectedErrors } from './ui-support/browser.ts';
import { expectSippOk } from './calls-support.ts';
import { callList, callRow, tile, useSwitchboardFixture } from './ui-support/switchboard-fixture.ts';
import { OTHER_DOMAIN } from './ui-support/ui-switch.ts';

// The switchboard page against the real switch: sipp phones register and call, the page shows
// it from the event stream, and the receptionist acts with the keyboard and drag and drop.
// 1000 is the receptionist's own phone ("my extension"), 1001 the caller, 1002/1004 targets.

const board = useSwitchboardFixture({
  accounts: ['1000', '1001', '1002', '1004'],
  phones: ['1000', '1002', '1004'],
  async setup(ui) {
    await ui.addUser('desk2@acme.test', 'desk-password', 'receptionist');
    await ui.addUser('desk@other.test', 'desk-password', 'receptionist', ui.otherTenantId);
    await ui.sw.running.db.accounts.add({ username: '7000', domain: OTHER_DOMAIN, password: 'other-long-password' });
  },
});
const { phone, openBoard, callInto } = board;

describe('switchboard', () => {
  it('shows a call ringing within moments on two receptionists\' screens alike; A answers it at my phone, T blind-transfers it and the target phone gets it; another tenant sees nothing', async () => {
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const desk = await openBoard();
    const desk2 = await openBoard('desk2@acme.test', '1000');
    const stranger = await openBoard('desk@other.test', null);
    const page = desk.page;
    await expect.poll(() => tile(page, '1000').getAttribute('data-state')).toBe('idle');

    const ringing = await phone('1002', 'call-uas-ring-cancel.xml');
    const sentAt = Date.now();
    const { caller, callId, row } = await callInto(page, 'transfer-uac-auth-reinvite-bye.xml');
    await row.waitFor();
    const visibleMs = Date.now() - sentAt;
    console.log(`switchboard: INVITE sent → call row visible in ${visibleMs} ms`);
    expect(visibleMs).toBeLessThan(5000);
    await expect.poll(() => row.getAttribute('data-phase')).toBe('ringing');
    await expect.poll(() => tile(page, '1002').getAttribute('data-state')).toBe('ringing');
    expect(await tile(page, '1002').innerText()).toContain('ringing from 1001');
    expect(await row.innerText()).toMatch(/Ringing[\s\S]*1001[\s\S]*for 2000/i);
    // The ring time counts up on screen.
    await expect.poll(() => row.locator('.call-timer').innerText(), { timeout: 5000 }).toMatch(/^0:0[1-9]/);
    await screenshot(page, 'switchboard-ringing');

    // The same truth on the second receptionist's screen; none of it on the other tenant's.
    await expect.poll(() => callRow(desk2.page, callId).getAttribute('data-phase')).toBe('ringing');
    expect(await tile(desk2.page, '1002').getAttribute('data-state')).toBe('ringing');
    expect(await stranger.page.getByText('No live calls.').count()).toBe(1);
    expect(await stranger.page.locator('[data-extension]').count()).toBe(0);
    const strangerTries = await stranger.page.evaluate(async (id) => {
      const { csrfToken } = (await (await fetch('/api/v1/auth/session')).json()) as { csrfToken: string };
      const post = (path: string, body: unknown) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify(body) });
      return [
        (await fetch(`/api/v1/calls/${id}`)).status,
        (await post(`/api/v1/calls/${id}/hangup`, {})).status,
        (await post('/api/v1/calls/pickup', { callId: id, destination: '7000' })).status,
      ];
    }, callId);
    expect(strangerTries).toEqual([404, 404, 404]);

    // Keyboard only. The waiting call is selected (longest waiting first); A rings my phone, which takes it.
    await expect.poll(() => row.getAttribute('aria-selected')).toBe('true');
    const reception = await phone('1000', 'call-uas-answer.xml');
    await page.keyboard.press('a');
    await expect.poll(() => row.getAttribute('data-phase')).toBe('answered');
    await expect.poll(() => row.locator('.call-detail').innerText()).toContain('with 1000');
    await expect.poll(() => callRow(desk2.page, callId).getAttribute('data-phase')).toBe('answered');
    expect(await tile(desk2.page, '1000').getAttribute('data-state')).toBe('busy');
    expect(await tile(page, '1000').innerText()).toContain('talking to 1001');
    await expectSippOk(ringing); // the rung phone got CANCEL
    // T opens the prompt, Enter sends.
    const target = await phone('1004', 'transfer-uas-late-offer.xml');
    await page.keyboard.press('t');
    await page.getByLabel('Transfer to').fill('1004');
    await page.keyboard.press('Enter');
    const [, , tgt] = await expectSippOk(reception, caller, target);
    expect(tgt!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    const done = await board.ui.sw.waitForEvent((e) => e.type === 'call.transferred' && e['callId'] === callId);
    expect(done['by']).toBe('api:desk@acme.test');
    expect(done['referTo']).toBe('<sip:1004@acme.test>');
    await row.waitFor({ state: 'detached' });
    await callRow(desk2.page, callId).waitFor({ state: 'detached' });
    expect(await stranger.page.getByText('No live calls.').count()).toBe(1);
    for (const w of [desk, desk2, stranger]) {
      expect(foreignRequests(w.requests, board.ui.origin)).toEqual([]);
      expect(unexpectedErrors(w.errors, [401, 404])).toEqual([]); // 404: the stranger's tries, the phonebook probe
    }
  }, 90_000);

  it('attended transfer from the page: consult 1004 while the caller waits, then complete', async () => {
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const { page } = await openBoard();
    const consultant = await phone('1000', 'consult-uas-consultant-wait-bye.xml');
    const target = await phone('1004', 'consult-uas-target-joined-bye.xml');
    const { caller, callId, row } = await callInto(page, 'consult-uac-auth-held-joined-wait-bye.xml', 'answered');
    await row.click();
    await page.keyboard.press('c');
    await page.getByLabel('Consult (attended transfer) with').fill('1004');
    await page.keyboard.press('Enter');
    await expect.poll(() => row.locator('.call-consult').getAttribute('data-consult-state'), { timeout: 10_000 }).toBe('talking');
    expect(await row.locator('.call-consult').innerText()).toContain('Consulting 1004');
    await expect.poll(() => tile(page, '1004').getAttribute('data-state')).toBe('busy');
    await screenshot(page, 'switchboard-consult');
    await page.getByRole('button', { name: /^Complete/ }).waitFor();
    await page.keyboard.press('o');
    const [x, r, d] = await expectSippOk(caller, consultant, target);
    expect(x!.logs).toMatch(/hold: a=sendonly/);
    expect(r!.logs).toContain('consulting: o=target');
    expect(d!.logs).toContain('joined: o=caller');
    expect(r!.logs).toMatch(/bye Reason: SIP;cause=200;text="Call transferred"/);
    await row.waitFor({ state: 'detached' });
    const history = (await board.ui.sw.waitForCdr(callId)).history;
    expect(history.map((h) => [h['kind'], h['result'], h['by']])).toEqual([['attended', 'accepted', 'api:desk@acme.test'], ['attended', 'completed', 'api:desk@acme.test']]);
  }, 60_000);

  it('attended transfer cancelled from the page: the target is hung up, caller and receptionist talk again', async () => {
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const { page } = await openBoard();
    const consultant = await phone('1000', 'consult-uas-consultant-cancel-bye.xml');
    const target = await phone('1004', 'transfer-uas-late-offer.xml');
    const { caller, callId, row } = await callInto(page, 'consult-uac-auth-held-joined-wait-bye.xml', 'answered');
    await row.click();
    await page.getByRole('button', { name: /^Consult/ }).click();
    await page.getByLabel('Consult (attended transfer) with').fill('1004');
    await page.getByRole('button', { name: /^Go/ }).click();
    await expect.poll(() => row.locator('.call-consult').getAttribute('data-consult-state'), { timeout: 10_000 }).toBe('talking');
    await page.keyboard.press('x');
    await row.locator('.call-consult').waitFor({ state: 'detached' });
    expect(await row.getAttribute('data-phase')).toBe('answered');
    const [x, r] = await expectSippOk(caller, consultant, target);
    expect(r!.logs).toContain('rejoined: o=caller');
    expect(x!.logs).toContain('ack sdp: o=consultant');
    await board.ui.sw.waitForEvent((e) => e.type === 'call.transfer.failed' && e['callId'] === callId && e['status'] === 487);
  }, 60_000);

  it('parks a call by dragging it onto a slot and retrieves it to my phone with R', async () => {
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const { page } = await openBoard();
    await page.getByLabel('Park slots').fill('70-77');
    const reception = await phone('1000', 'call-uas-answer.xml');
    const { caller, callId, row } = await callInto(page, 'park-uac-auth-parked-retrieved-bye.xml', 'answered');
    const slot = page.getByRole('list', { name: 'Parking lot' }).locator('[data-slot="75"]');
    await row.dragTo(slot);
    await expect.poll(() => row.getAttribute('data-phase')).toBe('parked');
    await expect.poll(() => slot.getAttribute('aria-label')).toBe('Slot 75: 1001');
    expect(await slot.innerText()).toContain('by desk@acme.test');
    expect((await board.ui.sw.waitForEvent((e) => e.type === 'call.parked' && e['callId'] === callId))['slot']).toBe('75');
    await expectSippOk(reception); // the receptionist's leg was hung up by the park
    await screenshot(page, 'switchboard-parked');

    // My phone is free again: R rings it, and it takes the parked caller.
    const desk = await phone('1000', 'transfer-uas-late-offer.xml');
    await row.click();
    await page.keyboard.press('r');
    const [c, d] = await expectSippOk(caller, desk);
    expect(c!.logs).toContain('retrieved by: o=target');
    expect(d!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    const got = await board.ui.sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === callId);
    expect(got['destination']).toBe('1000');
    await row.waitFor({ state: 'detached' });
    expect(await slot.getAttribute('aria-label')).toBe('Slot 75: free');
  }, 60_000);

  it('a ringing call dropped on an extension is answered there; G picks up the extension ringing, to my phone', async () => {
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const { page } = await openBoard();
    // Drag and drop: 1002 rings, the receptionist drops the call on 1004, which takes it.
    let ringing = await phone('1002', 'call-uas-ring-cancel.xml');
    const desk = await phone('1004', 'call-uas-answer.xml');
    let { caller, callId, row } = await callInto(page, 'e2e-uac-auth-answer-bye.xml', 'ringing');
    await row.dragTo(tile(page, '1004'));
    await expectSippOk(ringing, desk, caller);
    const picked = await board.ui.sw.waitForEvent((e) => e.type === 'call.picked-up' && e['callId'] === callId);
    expect(picked['by']).toBe('api:desk@acme.test');
    await row.waitFor({ state: 'detached' });

    // Keyboard: G, the ringing extension, Enter: my phone (1000) is rung and takes the call.
    ringing = await phone('1002', 'call-uas-ring-cancel.xml');
    const mine = await phone('1000', 'call-uas-answer.xml');
    ({ caller, callId, row } = await callInto(page, 'e2e-uac-auth-answer-wait-bye.xml'));
    await expect.poll(() => tile(page, '1002').getAttribute('data-state')).toBe('ringing');
    await page.keyboard.press('g');
    await page.getByLabel('Pick up the call ringing extension').fill('1002');
    await page.keyboard.press('Enter');
    await expect.poll(() => row.getAttribute('data-phase')).toBe('answered');
    await expect.poll(() => tile(page, '1000').getAttribute('data-state')).toBe('busy');
    await expectSippOk(ringing);
    await row.click();
    await page.keyboard.press('Delete');
    await expectSippOk(mine, caller);
    await row.waitFor({ state: 'detached' });
  }, 60_000);

  it('survives a server-side close of its socket: reconnecting shown, resumed with since=, the hold made meanwhile and the call kept; the hold alert fires at the threshold set on the page', async () => {
    await board.ui.sw.useOutDialplan('1001', 'await sys.Dial("1000@local");');
    const watched = await openBoard();
    const { page } = watched;
    await page.getByLabel('Hold alert after (seconds)').fill('2');
    const sockets: Duplex[] = [];
    let refuse = false;
    const onUpgrade = (req: IncomingMessage, socket: Duplex): void => {
      if (!req.url?.startsWith('/api/v1/events')) return;
      if (refuse) socket.destroy(); // the switch turns the stream away (before the hub's handler answers)
      else sockets.push(socket);
    };
    const server = board.ui.sw.running.http.server;
    server.prependListener('upgrade', onUpgrade);
    const urls: string[] = [];
    page.on('websocket', (ws) => urls.push(ws.url()));
    try {
      // The page's socket opened before the tap: reload so the tap sees it.
      await page.reload();
      await expect.poll(() => page.getByTestId('stream-state').textContent()).toBe('Live');
      const reception = await phone('1000', 'control-uas-hold-unhold.xml');
      const { caller, callId, row } = await callInto(page, 'control-uac-auth-hold-unhold.xml', 'answered');

      const shown = async (): Promise<string[]> => (await callList(page).locator('[data-call-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-call-id') ?? ''))).sort();
      const before = await shown();
      expect(before).toContain(callId);
      // The server drops the socket and refuses new ones for a while.
      refuse = true;
      for (const s of sockets.splice(0)) s.destroy();
      await page.getByTestId('reconnecting').waitFor();
      expect(await page.getByTestId('stream-state').textContent()).toBe('Reconnecting…');
      // Meanwhile the second receptionist holds the call (through the API, as a page would).
      const user = await board.ui.sw.running.db.users.findByEmail('desk2@acme.test');
      const token = (await board.ui.sw.running.db.tokens.create({ userId: user!.id, name: 'reconnect-test' })).token;
      const held = await fetch(`${board.ui.origin}/api/v1/calls/${callId}/hold`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ party: 'caller' }),
      });
      expect(held.status, await held.clone().text()).toBe(200);
      expect(await row.getAttribute('data-phase')).toBe('answered'); // nothing reaches the page yet
      refuse = false;
      await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 15_000 }).toBe('Live');
      await expect.poll(() => row.getAttribute('data-phase')).toBe('held');
      expect(urls.at(-1)).toMatch(/\/api\/v1\/events\?since=\d+$/);
      expect(await shown()).toEqual(before);

      // Held longer than the threshold set on the page: the alert colour and tag.
      await row.locator('.alert-tag').waitFor({ timeout: 10_000 });
      expect(await row.getAttribute('class')).toContain('hold-alert');
      await screenshot(page, 'switchboard-hold-alert');
      await page.keyboard.press('?');
      const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
      await help.waitFor();
      expect(await help.innerText()).toMatch(/T\s+Blind-transfer the selected call/);
      await screenshot(page, 'switchboard-shortcuts');
      await page.keyboard.press('Escape');
      await help.waitFor({ state: 'hidden' });

      await page.keyboard.press('h'); // retrieve from hold
      await expect.poll(() => row.getAttribute('data-phase')).toBe('answered');
      await page.keyboard.press('Delete');
      await expectSippOk(reception, caller);
      await row.waitFor({ state: 'detached' });
      const types = board.ui.sw.events.filter((e) => e['callId'] === callId).map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['call.held', 'call.unheld', 'call.ended']));
      expect(board.ui.sw.events.find((e) => e.type === 'call.unheld' && e['callId'] === callId)?.['by']).toBe('api:desk@acme.test');
      // The browser logs the refused reconnects; nothing else may fail (404: the phonebook probe
      // on a switch without the phonebook API, see switchboard/extras).
      expect(unexpectedErrors(watched.errors, [401, 404]).filter((e) => !e.startsWith('WebSocket connection to'))).toEqual([]);
    } finally {
      server.off('upgrade', onUpgrade);
    }
  }, 90_000);
});
