import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { ensureUiBuilt, launchChromium, openPage, type WatchedPage } from './browser.ts';
import { PASSWORD, startSipp, type SippProcess, type SippStartOptions } from '../calls-support.ts';
import { sippRegister, startUiSwitch, type UiSwitch } from './ui-switch.ts';

/**
 * What the switchboard browser tests share: the switch with its accounts, receptionist
 * desk@acme.test (password `desk-password`), the `transfer` dialplan, sipp phones registered from
 * their own ports, one chromium; every sipp and page a test starts is stopped after it.
 */
export interface SwitchboardFixture {
  readonly ui: UiSwitch;
  /** The UDP port each registered phone listens on (a test may register one again). */
  readonly ports: Record<string, number>;
  /** A phone of `user` answering with `scenario` on the port it registered from. */
  phone(user: string, scenario: string): Promise<SippProcess>;
  /** 1001 dials 2000; its outgoing dialplan (set per test) says where the call rings. */
  callIn(scenario: string): Promise<SippProcess>;
  /** Signs in at /switchboard, waits for the live stream, picks `mine` as my extension (null: none). */
  openBoard(email?: string, mine?: string | null): Promise<WatchedPage>;
  /** `callIn(scenario)`, with the call's id and its row on `page` (once the row shows `phase`, when given). */
  callInto(page: Page, scenario: string, phase?: string): Promise<{ caller: SippProcess; callId: string; row: Locator }>;
}

/**
 * Registers the beforeAll/afterEach/afterAll hooks in the calling scope; `setup` adds what one
 * file needs beyond the shared part (more users, other tenants' accounts).
 */
export function useSwitchboardFixture(opts: { accounts: string[]; phones: string[]; setup?(ui: UiSwitch): Promise<void> }): SwitchboardFixture {
  let browser: Browser;
  let ui: UiSwitch;
  const ports: Record<string, number> = {};
  const started: SippProcess[] = [];
  const pages: WatchedPage[] = [];

  beforeAll(async () => {
    await ensureUiBuilt();
    ui = await startUiSwitch(opts.accounts);
    await ui.addUser('desk@acme.test', 'desk-password', 'receptionist');
    await opts.setup?.(ui);
    await ui.sw.useNamedDialplan('transfer', 'await sys.Dial(`${req.uri.user}@local`);');
    for (const user of opts.phones) ports[user] = await sippRegister(ui.sw.target, user, PASSWORD);
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

  const sipp = async (scenario: string, sippOpts: SippStartOptions = {}): Promise<SippProcess> => {
    const p = await startSipp(scenario, sippOpts);
    started.push(p);
    return p;
  };
  const callIn = (scenario: string) => sipp(scenario, { remote: ui.sw.target, service: '2000', user: '1001' });
  /** The call the next call.created on the bus names (the test's own view of the switch, to find its row). */
  const nextCallId = (): Promise<string> => {
    const before = ui.sw.events.length;
    return ui.sw.waitForEvent((e) => e.type === 'call.created' && ui.sw.events.indexOf(e) >= before).then((e) => String(e['callId']));
  };

  return {
    get ui() {
      return ui;
    },
    ports,
    phone: (user, scenario) => sipp(scenario, { port: ports[user] }),
    callIn,
    async openBoard(email = 'desk@acme.test', mine = '1000') {
      const watched = await openPage(browser, ui.origin);
      pages.push(watched);
      const { page } = watched;
      await page.goto('/switchboard');
      await page.getByLabel('E-mail').fill(email);
      await page.getByLabel('Password').fill('desk-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Switchboard' }).waitFor();
      await expect.poll(() => page.getByTestId('stream-state').textContent()).toBe('Live');
      if (mine) await page.getByLabel('My extension').selectOption(mine);
      return watched;
    },
    async callInto(page, scenario, phase) {
      const created = nextCallId();
      const caller = await callIn(scenario);
      const callId = await created;
      const row = callRow(page, callId);
      if (phase) await expect.poll(() => row.getAttribute('data-phase')).toBe(phase);
      return { caller, callId, row };
    },
  };
}

export const callList = (page: Page): Locator => page.getByRole('listbox', { name: 'Calls' });
export const callRow = (page: Page, callId: string): Locator => page.locator(`[data-call-id="${callId}"]`);
export const tile = (page: Page, user: string): Locator => page.getByRole('list', { name: 'Extensions' }).locator(`[data-extension="${user}"]`);
