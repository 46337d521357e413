import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

/** The session cookie as a real browser (Chromium) keeps it: HttpOnly, sent back, CSRF needed for changes. */
describe('browser session in Chromium', () => {
  let h: ApiHarness;
  let browser: Browser;
  let tenantId: number;

  beforeAll(async () => {
    h = await startApiHarness(testDatabaseTargets()[0]!);
    tenantId = (await h.db.tenants.add({ domain: 'browser.test' })).id;
    await h.db.users.add({ email: 'web@browser.test', password: 'web-long-password', role: 'admin', tenantId });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('signs in, keeps the cookie out of scripts, sends it back, and refuses a change without the CSRF header', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.base}/health`);
    const login = await page.evaluate(async () => {
      const res = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'web@browser.test', password: 'web-long-password' }) });
      return { status: res.status, csrfToken: ((await res.json()) as { csrfToken: string }).csrfToken };
    });
    expect(login.status).toBe(200);
    expect((await page.context().cookies()).find((c) => c.name === 'pb_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    const result = await page.evaluate(async (csrfToken) => {
      const json = { 'content-type': 'application/json' };
      const session = await fetch('/api/v1/auth/session');
      const noCsrf = await fetch('/api/v1/kv/colour', { method: 'PUT', headers: json, body: JSON.stringify({ value: 'red' }) });
      const withCsrf = await fetch('/api/v1/kv/colour', { method: 'PUT', headers: { ...json, 'x-csrf-token': csrfToken }, body: JSON.stringify({ value: 'green' }) });
      const logout = await fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'x-csrf-token': csrfToken } });
      const after = await fetch('/api/v1/auth/session');
      return { cookieVisible: document.cookie.includes('pb_session'), session: session.status, noCsrf: noCsrf.status, withCsrf: withCsrf.status, logout: logout.status, after: after.status };
    }, login.csrfToken);
    expect(result).toEqual({ cookieVisible: false, session: 200, noCsrf: 403, withCsrf: 200, logout: 204, after: 401 });
    expect(await h.db.kv.read(tenantId, 'colour')).toBe('green');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'pb_session')).toBeUndefined(); // cleared by logout
    await page.close();
  });
});
