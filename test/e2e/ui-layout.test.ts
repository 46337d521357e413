import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ensureUiBuilt, launchChromium, openPage, screenshot, unexpectedErrors, signIn } from './ui-support/browser.ts';
import { DOMAIN, startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

// Every page at the two sizes the app promises (1280×800 desktop, 820×1180 tablet): nothing
// wider than the window (wide tables scroll inside their own box), and a screenshot of each
// in .ui-screenshots for review.

let browser: Browser;
let ui: UiSwitch;
let accountId: number;

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'tablet', width: 820, height: 1180 },
] as const;

beforeAll(async () => {
  await ensureUiBuilt();
  ui = await startUiSwitch(['1001', '1002']);
  await ui.addUser('admin@acme.test', 'admin-password', 'admin');
  await ui.sw.running.db.users.add({ email: 'op@ops.test', password: 'operator-password', role: 'operator', tenantId: null });
  await ui.seedDialplan('outgoing', 'sys.Log("hello");\nawait sys.Dial(`${req.uri.user}@local`);\n', { message: 'first cut' });
  accountId = (await ui.sw.running.db.accounts.listPage({ tenantId: ui.sw.tenantId, username: '1001', limit: 1 }))[0]!.id;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

/**
 * What sticks out: elements past the window's right edge, and tables wider than their box (a
 * table that scrolls sideways hides its last columns, usually the actions), by tag, class or
 * name, for the failure message.
 */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = Array.from(document.querySelectorAll('.table-wrap'))
      .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1)
      .map((wrap) => `table "${wrap.querySelector('table')?.getAttribute('aria-label') ?? '?'}" ${wrap.scrollWidth}px in ${wrap.clientWidth}px`);
    if (document.documentElement.scrollWidth <= width) return out;
    return out.concat(Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > width + 1 && !el.closest('.table-wrap, .monaco-editor'))
      .slice(0, 8)
      .map((el) => `${el.tagName.toLowerCase()}.${Array.from(el.classList).join('.')} (${Math.round(el.getBoundingClientRect().right)}px)`));
  });
}

interface PageVisit {
  path: string;
  name: string;
  /** What shows once the page has its data. */
  ready(page: Page): Promise<unknown>;
}

const ADMIN_PAGES: PageVisit[] = [
  { path: '/dialplans', name: 'dialplans', ready: (p) => p.getByRole('table', { name: 'Dialplans' }).waitFor() },
  { path: '/dialplans/outgoing', name: 'editor', ready: (p) => p.locator('.monaco-editor .view-lines').getByText('hello').waitFor() },
  { path: '/dialplans/outgoing', name: 'editor-history', ready: async (p) => {
    await p.getByRole('tab', { name: 'History' }).click();
    await p.getByRole('table', { name: 'Versions' }).waitFor();
  } },
  { path: '/dialplans/outgoing', name: 'editor-dry-run', ready: async (p) => {
    await p.getByRole('tab', { name: 'Dry run' }).click();
    const form = p.getByRole('form', { name: 'Dry run' });
    await form.getByLabel('From account').fill('1001');
    await form.getByLabel('To', { exact: true }).fill('1002');
    await form.getByRole('button', { name: 'Run' }).click();
    await p.getByTestId('dry-run-response').waitFor();
  } },
  { path: '/accounts', name: 'accounts', ready: (p) => p.getByRole('table').first().waitFor() },
  { path: '/accounts/:id', name: 'account', ready: (p) => p.getByRole('heading', { level: 1 }).waitFor() },
  { path: '/providers', name: 'providers-form', ready: async (p) => {
    await p.getByText('No providers yet').waitFor();
    await p.getByRole('button', { name: 'New provider' }).click();
    await p.getByRole('form', { name: 'New provider' }).waitFor();
  } },
  { path: '/switchboard', name: 'switchboard', ready: (p) => p.getByRole('heading', { name: 'Switchboard' }).waitFor() },
  // No call yet and no filter: the empty state says so (not "no match").
  { path: '/cdrs', name: 'cdrs', ready: (p) => p.getByText('No calls yet').waitFor() },
  { path: '/console', name: 'console', ready: (p) => p.getByTestId('stream-state').getByText('Live').waitFor() },
  { path: '/users', name: 'users', ready: (p) => p.getByRole('table', { name: 'Users' }).waitFor() },
  { path: '/tokens', name: 'tokens', ready: (p) => p.getByRole('button', { name: 'New token' }).waitFor() },
  { path: '/secrets', name: 'secrets', ready: (p) => p.getByRole('heading', { name: 'Secrets' }).waitFor() },
  { path: '/audit', name: 'audit', ready: (p) => p.getByRole('heading', { name: 'Audit log' }).waitFor() },
  { path: '/profile', name: 'profile', ready: (p) => p.getByRole('heading', { name: 'My profile' }).waitFor() },
];

describe('layout at 1280×800 and 820×1180', () => {
  for (const viewport of VIEWPORTS) {
    it(`no admin page is wider than the window (${viewport.name})`, async () => {
      const { page, context, errors } = await openPage(browser, ui.origin, viewport);
      try {
        await signIn(page, 'admin@acme.test', 'admin-password', 'Dialplans', { exact: true });
        const wide: Record<string, string[]> = {};
        for (const visit of ADMIN_PAGES) {
          await page.goto(visit.path.replace(':id', String(accountId)));
          await visit.ready(page);
          await screenshot(page, `layout-${visit.name}-${viewport.name}`);
          const out = await overflowing(page);
          if (out.length) wide[visit.name] = out;
        }
        expect(wide).toEqual({});
        expect(unexpectedErrors(errors)).toEqual([]);
      } finally {
        await context.close();
      }
    }, 120_000);

    it(`the operator's tenants page and tenant picker fit (${viewport.name})`, async () => {
      const { page, context, errors } = await openPage(browser, ui.origin, viewport);
      try {
        await signIn(page, 'op@ops.test', 'operator-password', 'Tenants', { exact: true });
        await page.getByRole('table', { name: 'Tenants' }).waitFor();
        await page.getByLabel('Working on tenant').selectOption({ label: DOMAIN });
        await screenshot(page, `layout-tenants-${viewport.name}`);
        expect(await overflowing(page)).toEqual([]);
        expect(unexpectedErrors(errors)).toEqual([]);
      } finally {
        await context.close();
      }
    }, 60_000);
  }
});
