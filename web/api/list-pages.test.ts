import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Page = { items: Json[]; nextCursor: string | null };

/**
 * The lists that used to answer everything at once (tenants, providers, DIDs, API tokens,
 * tenant secrets) page by keyset like the others: pages of `limit` walk the whole list in its
 * order with no repeats, `q` narrows it, a bad `limit` or `cursor` is a 400 naming the field,
 * and another tenant's (or user's) rows never show.
 */
describe.each(testDatabaseTargets())('list pages and filters on $dialect', (target) => {
  let h: ApiHarness;
  let op: Credentials;
  let adminA: Credentials;
  let adminB: Credentials;
  let userA = 0;
  let tenantA = 0;
  let tenantB = 0;

  const get = async (path: string, auth: Credentials): Promise<Page> => {
    const res = await h.call('GET', path, { auth });
    expect(res.status, `${path}: ${res.status}`).toBe(200);
    return (await res.json()) as Page;
  };

  /** Every item of a list, fetched `size` at a time by following nextCursor. */
  const walk = async (path: string, auth: Credentials, size = 2): Promise<Json[]> => {
    const items: Json[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 100; n++) {
      const sep = path.includes('?') ? '&' : '?';
      const page: Page = await get(`${path}${sep}limit=${size}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, auth);
      expect(page.items.length).toBeLessThanOrEqual(size);
      items.push(...page.items);
      if (page.nextCursor === null) return items;
      expect(page.items.length).toBe(size);
      cursor = page.nextCursor;
    }
    throw new Error(`${path}: the cursor never ran out`);
  };

  const expectBadQuery = async (path: string, auth: Credentials) => {
    const sep = path.includes('?') ? '&' : '?';
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=two', 'limit'],
      ['cursor=%25%20nope', 'cursor'],
    ] as const) {
      const res = await h.call('GET', `${path}${sep}${query}`, { auth });
      expect(res.status, `${path} ${query}`).toBe(400);
      expect(await res.json()).toMatchObject({ field, error: expect.stringContaining(field) });
    }
  };

  beforeAll(async () => {
    h = await startApiHarness(target);
    tenantA = (await h.db.tenants.add({ domain: 'pages-a.test', name: 'Alpha Pages' })).id;
    tenantB = (await h.db.tenants.add({ domain: 'pages-b.test', name: 'Bravo Pages' })).id;
    op = (await h.userWithSession('operator', null, 'op@pages.test')).session;
    const a = await h.userWithSession('admin', tenantA, 'admin@pages-a.test');
    userA = a.userId;
    adminA = a.session;
    adminB = (await h.userWithSession('admin', tenantB, 'admin@pages-b.test')).session;
  });
  afterAll(async () => h?.close());

  it('tenants: pages of 2 in domain order, q on domain or name (letter case aside), bad limit/cursor 400', async () => {
    for (const [domain, name] of [['zulu.test', 'Zulu Ltd'], ['echo.test', 'Echo Sound'], ['delta.test', 'Delta Echo Works'], ['kilo.test', 'Kilo']]) {
      await h.db.tenants.add({ domain, name });
    }
    const all = (await h.db.tenants.list()).map((t) => t.domain);
    expect(all.length).toBe(6);
    const walked = (await walk('/tenants', op)).map((t) => t['domain'] as string);
    expect(walked).toEqual([...all].sort());
    expect(new Set(walked).size).toBe(walked.length);

    expect((await get('/tenants?q=ECHO', op)).items.map((t) => t['domain'])).toEqual(['delta.test', 'echo.test']);
    expect((await get('/tenants?q=pages-', op)).items.map((t) => t['domain'])).toEqual(['pages-a.test', 'pages-b.test']);
    const withO = (await h.db.tenants.list()).filter((t) => t.domain.includes('o') || t.name.toLowerCase().includes('o')).map((t) => t.domain);
    expect(withO.length).toBeGreaterThan(2);
    expect((await walk('/tenants?q=O', op, 1)).map((t) => t['domain'])).toEqual(withO);
    expect((await get('/tenants?q=100%25', op)).items).toEqual([]);
    const one = await get('/tenants?limit=1', op);
    expect(one.items.length).toBe(1);
    expect(one.nextCursor).toBe(walked[0]);
    await expectBadQuery('/tenants', op);
    expect((await h.call('GET', '/tenants', { auth: adminA })).status).toBe(403);
  });

  it('providers: pages of 2 in name order, q and register narrow, only the tenant\'s own', async () => {
    for (const [name, register] of [['carrier-z', false], ['Backup', true], ['carrier-a', true], ['local', false], ['carrier_m', true]] as const) {
      await h.db.providers.add({ tenantId: tenantA, name, serverUri: `sip:${name.toLowerCase().replace('_', '-')}.example`, register });
    }
    await h.db.providers.add({ tenantId: tenantB, name: 'carrier-b-only', serverUri: 'sip:b.example', register: true });
    const mine = (await h.db.providers.list(tenantA)).map((p) => p.name);
    expect(mine.length).toBe(5);

    const walked = (await walk('/providers', adminA)).map((p) => p['name'] as string);
    expect(walked).toEqual(mine);
    expect(new Set(walked).size).toBe(5);
    expect(walked).not.toContain('carrier-b-only');

    expect((await walk('/providers?q=CARRIER', adminA)).map((p) => p['name'])).toEqual(mine.filter((n) => n.startsWith('carrier')));
    expect((await get('/providers?q=carrier_', adminA)).items.map((p) => p['name'])).toEqual(['carrier_m']);
    expect((await get('/providers?register=true', adminA)).items.map((p) => p['name'])).toEqual(mine.filter((n) => ['Backup', 'carrier-a', 'carrier_m'].includes(n)));
    expect((await get('/providers?register=false&q=carrier', adminA)).items.map((p) => p['name'])).toEqual(['carrier-z']);
    expect((await get('/providers', adminA)).items[0]).toHaveProperty('registration');

    // The other tenant's admin, and an operator naming that tenant, see only its provider.
    expect((await walk('/providers', adminB)).map((p) => p['name'])).toEqual(['carrier-b-only']);
    expect((await walk(`/providers?tenant=${tenantB}&q=carrier`, op)).map((p) => p['name'])).toEqual(['carrier-b-only']);
    expect((await walk(`/providers?tenant=${tenantA}`, op)).map((p) => p['name'])).toEqual(mine);

    await expectBadQuery('/providers', adminA);
    const badRegister = await h.call('GET', '/providers?register=yes', { auth: adminA });
    expect(badRegister.status).toBe(400);
    expect(await badRegister.json()).toMatchObject({ field: 'register' });
  });

  it('DIDs: pages of 2 in number order, q narrows, only the tenant\'s own', async () => {
    for (const number of ['+442071234003', '+442071234001', '+14155550100', '+442071234002', '0800123']) {
      await h.db.dids.add({ tenantId: tenantA, number, providerId: null, accountUsername: null, dialplan: null });
    }
    await h.db.dids.add({ tenantId: tenantB, number: '+442071234999', providerId: null, accountUsername: null, dialplan: null });
    const mine = (await h.db.dids.list(tenantA)).map((x) => x.number);
    const walked = (await walk('/dids', adminA)).map((x) => x['number'] as string);
    expect(walked).toEqual(mine);
    expect(new Set(walked).size).toBe(5);
    expect(walked).not.toContain('+442071234999');
    expect((await walk('/dids?q=20712340', adminA)).map((x) => x['number'])).toEqual(['+442071234001', '+442071234002', '+442071234003']);
    expect((await get('/dids?q=2071234', adminB)).items.map((x) => x['number'])).toEqual(['+442071234999']);
    await expectBadQuery('/dids', adminA);
  });

  it('API tokens: pages of 2 in creation order, q narrows, only my own', async () => {
    const names = ['deploy script', 'Backup job', 'monitoring', 'DEPLOY staging', 'reports'];
    for (const name of names) await h.db.tokens.create({ userId: userA, name, scopes: ['read'], expiresAt: null });
    const other = await h.db.users.add({ email: 'other@pages-a.test', password: 'a-long-password', role: 'admin', tenantId: tenantA });
    await h.db.tokens.create({ userId: other.id, name: 'deploy other', scopes: ['read'], expiresAt: null });

    const walked = await walk('/tokens', adminA);
    expect(walked.map((t) => t['name'])).toEqual(names);
    const ids = walked.map((t) => t['id'] as number);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(5);
    expect((await walk('/tokens?q=Deploy', adminA, 1)).map((t) => t['name'])).toEqual(['deploy script', 'DEPLOY staging']);
    // Another admin of the tenant, or of another tenant, never sees these.
    expect((await walk('/tokens', adminB)).map((t) => t['name'])).toEqual([]);
    await expectBadQuery('/tokens', adminA);
  });

  it('tenant secrets: pages of 2 in name order, q narrows, the default page is 50, only the tenant\'s own', async () => {
    for (const name of ['weather-key', 'crm.token', 'Backup_pass', 'crm.secret', 'sms-key']) await h.db.secrets.put(tenantA, name, 'value-1234');
    await h.db.secrets.put(tenantB, 'crm.b-only', 'value-b');
    const mine = (await h.db.secrets.list(tenantA)).map((s) => s.name);
    const walked = (await walk('/secrets', adminA)).map((s) => s['name'] as string);
    expect(walked).toEqual(mine);
    expect(new Set(walked).size).toBe(5);
    expect(walked).not.toContain('crm.b-only');
    expect((await walk('/secrets?q=CRM.', adminA)).map((s) => s['name'])).toEqual(['crm.secret', 'crm.token']);
    expect((await get('/secrets?q=-key', adminA)).items.map((s) => s['name'])).toEqual(['sms-key', 'weather-key']);
    expect((await walk(`/secrets?tenant=${tenantB}`, op)).map((s) => s['name'])).toEqual(['crm.b-only']);
    await expectBadQuery('/secrets', adminA);

    for (let i = 0; i < 50; i++) await h.db.secrets.put(tenantA, `bulk-${String(i).padStart(2, '0')}`, 'v');
    const first = await get('/secrets', adminA);
    expect(first.items.length).toBe(50);
    expect(first.nextCursor).not.toBeNull();
    const biggest = await get('/secrets?limit=500', adminA);
    expect(biggest.items.length).toBe(55);
    expect(biggest.nextCursor).toBeNull();
  });
});
