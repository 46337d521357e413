import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

/** The API reference page renders in a real Chromium from the switch alone (every other host blocked). */
describe('API reference page', () => {
  let h: ApiHarness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startApiHarness(testDatabaseTargets()[0]!);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows the routes of openapi.json with nothing fetched from another host', async () => {
    const page = await browser.newPage();
    const foreign: string[] = [];
    const origin = new URL(h.base).origin;
    await page.route('**/*', (route) => {
      if (route.request().url().startsWith(origin)) return route.continue();
      foreign.push(route.request().url());
      return route.abort();
    });
    const res = await page.goto(`${h.base}/docs`);
    expect(res?.status()).toBe(200);
    await page.getByText('Patchbay API', { exact: false }).first().waitFor({ timeout: 15_000 });
    await page.getByText('/dialplans/{name}/rollback').first().waitFor({ timeout: 15_000 });
    expect(foreign).toEqual([]);
    expect((await fetch(`${h.base}/docs/..%2Fpackage.json`)).status).toBe(404);
    await page.close();
  });
});
