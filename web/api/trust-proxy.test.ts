import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

const forwarded = { 'x-forwarded-for': '203.0.113.77', 'x-forwarded-proto': 'https' };

describe('client address and scheme behind a proxy', () => {
  let direct: ApiHarness;
  let proxied: ApiHarness;

  beforeAll(async () => {
    direct = await startApiHarness(testDatabaseTargets()[0]!);
    proxied = await startApiHarness(testDatabaseTargets()[0]!, { trustProxy: true });
    for (const h of [direct, proxied]) {
      const t = await h.db.tenants.add({ domain: 'proxy.test' });
      await h.db.users.add({ email: 'u@proxy.test', password: 'u-long-password', role: 'admin', tenantId: t.id });
    }
  });
  afterAll(async () => {
    await direct?.close();
    await proxied?.close();
  });

  it('ignores X-Forwarded-* unless told to trust a proxy (a client cannot pick its address)', async () => {
    const res = await direct.call('POST', '/auth/login', { body: { email: 'u@proxy.test', password: 'u-long-password' }, headers: forwarded });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).not.toMatch(/secure/i);
    expect((await direct.db.audit.list({ action: 'auth.login' }))[0]?.sourceAddress).toMatch(/127\.0\.0\.1/);
  });

  it('uses the forwarded client address and scheme behind a trusted proxy', async () => {
    const res = await proxied.call('POST', '/auth/login', { body: { email: 'u@proxy.test', password: 'u-long-password' }, headers: forwarded });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/secure/i);
    expect((await proxied.db.audit.list({ action: 'auth.login' }))[0]?.sourceAddress).toBe('203.0.113.77');
  });
});
