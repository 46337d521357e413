import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from '../harness/index.ts';

export const DIST_DIR = join(REPO_ROOT, 'web', 'ui', 'dist');
export const SCREENSHOT_DIR = join(REPO_ROOT, '.ui-screenshots');

/** Builds web/ui/dist unless it is fresh (the build script locks against parallel builders). */
export async function ensureUiBuilt(): Promise<void> {
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'web', 'ui', 'build.mjs'), '--if-stale'], { cwd: REPO_ROOT, timeout: 180_000 });
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested (documents, scripts, workers, fonts, fetches). */
  requests: string[];
  /** Console errors and page errors (CSP violations show up here). */
  errors: string[];
}

export async function openPage(browser: Browser, baseURL: string, viewport = { width: 1280, height: 800 }): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL, viewport });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return { context, page, requests, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * Console errors other than the browser's own "Failed to load resource" lines for the statuses
 * a page expects to meet (401 for the session probe before login, 404 for a missing object).
 */
export function unexpectedErrors(errors: string[], expectedStatuses: number[] = [401]): string[] {
  return errors.filter((e) => !expectedStatuses.some((status) => e.startsWith('Failed to load resource') && e.includes(`status of ${status}`)));
}

/** Requests that left the switch's origin (data:/blob: are in-page, not network). */
export function foreignRequests(requests: string[], origin: string): string[] {
  return requests.filter((url) => !url.startsWith(origin + '/') && !url.startsWith('data:') && !url.startsWith('blob:'));
}

/**
 * Signs in through the form at `path` and waits for the heading `landing` of the page the role
 * lands on (`exact`: the whole heading, not a part of it).
 */
export async function signIn(page: Page, email: string, password: string, landing: string, opts: { path?: string; exact?: boolean } = {}): Promise<void> {
  await page.goto(opts.path ?? '/');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', opts.exact ? { name: landing, exact: true } : { name: landing }).waitFor();
}
