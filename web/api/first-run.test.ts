import { mkdtempSync, rmSync, statSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { FirstRunSetup, SETUP_TOKEN_FILE } from './first-run.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

// First run: the one-time setup token creates the first operator once; a wrong or reused token
// is refused, and the route closes as soon as any web user exists.

describe.each(testDatabaseTargets())('first-run setup on $dialect', (target) => {
  let h: ApiHarness;
  let setup: FirstRunSetup;
  let dataDir: string;
  let token: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'patchbay-first-run-'));
    h = await startApiHarness(target, (db) => {
      setup = new FirstRunSetup({ db, dataDir });
      return { firstRun: setup };
    });
    token = (await setup.prepare())!;
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) => h.call('POST', '/setup', { body });

  it('keeps the token in the data dir with mode 0600, the same across restarts', async () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(dataDir, SETUP_TOKEN_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    expect(await new FirstRunSetup({ db: h.db, dataDir }).prepare()).toBe(token);
    expect(await (await h.call('GET', '/setup')).json()).toEqual({ open: true });
  });

  it('refuses a wrong token (403 naming it) and bad input (400 naming the field); creates nothing', async () => {
    const wrong = await post({ token: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, email: 'op@example.com', password: 'an-operator-password' });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ field: 'token' });
    expect((await post({ token: 'short', email: 'op@example.com', password: 'an-operator-password' })).status).toBe(403);
    const shortPw = await post({ token, email: 'op@example.com', password: 'short' });
    expect(shortPw.status).toBe(400);
    expect(await shortPw.json()).toMatchObject({ field: 'password' });
    expect(await h.db.users.list()).toEqual([]);
  });

  it('creates the operator once, signs them in, then the token and the route are spent', async () => {
    const res = await post({ token, email: 'Op@Example.com', password: 'an-operator-password' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { user: { email: string; role: string; tenantId: number | null }; csrfToken: string };
    expect(body.user).toMatchObject({ email: 'op@example.com', role: 'operator', tenantId: null });
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const me = await fetch(`${h.base}/auth/session`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(existsSync(join(dataDir, SETUP_TOKEN_FILE))).toBe(false);
    expect((await h.db.audit.list({ action: 'setup.operator' })).length).toBe(1);

    // Reused: refused, and no second operator.
    const again = await post({ token, email: 'evil@example.com', password: 'an-attacker-password' });
    expect(again.status).toBe(410);
    expect(await (await h.call('GET', '/setup')).json()).toEqual({ open: false });
    expect((await h.db.users.list()).map((u) => u.email)).toEqual(['op@example.com']);
    // A restart with a user present opens nothing.
    expect(await new FirstRunSetup({ db: h.db, dataDir }).prepare()).toBeNull();
  });

  it('closes once a user exists made another way (patchbay user add)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-first-run-'));
    let fresh: FirstRunSetup | undefined;
    const other = await startApiHarness(target, (db) => {
      fresh = new FirstRunSetup({ db, dataDir: dir });
      return { firstRun: fresh };
    });
    try {
      const t = (await fresh!.prepare())!;
      await other.db.users.add({ email: 'cli@example.com', password: 'a-cli-password', role: 'operator', tenantId: null });
      expect(await (await other.call('GET', '/setup')).json()).toEqual({ open: false });
      const res = await other.call('POST', '/setup', { body: { token: t, email: 'late@example.com', password: 'a-late-password' } });
      expect(res.status).toBe(410);
      expect((await other.db.users.list()).map((u) => u.email)).toEqual(['cli@example.com']);
    } finally {
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
