import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY, DuplicateError, ValidationError, openDatabase, type Database } from './index.ts';
import { testDatabaseTargets } from './test-databases.ts';

for (const target of testDatabaseTargets()) {
  describe(`provider settings, call policies, DIDs (${target.dialect})`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    let tenantId: number;

    beforeAll(async () => {
      const created = await target.create();
      cleanup = created.cleanup;
      db = await openDatabase(created.url, { secretKey: Buffer.alloc(32, 9) });
      await db.migrate();
      tenantId = (await db.tenants.add({ domain: 'acme.test' })).id;
    }, 60_000);

    afterAll(async () => {
      await db?.close();
      await cleanup?.();
    });

    it('stores settings, merges updates, re-encrypts a changed password', async () => {
      const p = await db.providers.add({ tenantId, name: 'gizmo', serverUri: 'sip:g.example', password: 'one', settings: { countryCode: '49' } });
      expect(p.settings).toEqual({ countryCode: '49' });
      const q = await db.providers.update(p.id, { settings: { numberFormat: 'e164', countryCode: undefined }, password: 'two', register: true });
      expect(q.settings).toEqual({ numberFormat: 'e164' });
    expect((await db.providers.update(p.id, { settings: { fromHost: 'g.example' } })).settings).toEqual({ numberFormat: 'e164', fromHost: 'g.example' });
      expect(q.register).toBe(true);
      expect(await db.providers.revealPassword(p.id)).toBe('two');
      await expect(db.providers.update(p.id, { customHeaders: { 'Call-ID': 'x' } })).rejects.toBeInstanceOf(ValidationError);
      await expect(db.providers.update(p.id, { settings: { privacy: 'id\r\nVia: x' } })).rejects.toBeInstanceOf(ValidationError);
    });

    it('a tenant without a stored policy has the defaults; edits are validated and reset', async () => {
      expect(await db.callPolicies.get(tenantId)).toEqual({ ...DEFAULT_CALL_POLICY });
      const p = await db.callPolicies.update(tenantId, { allowedPrefixes: ['+88234'], maxConcurrentPerAccount: 1 });
      expect(p.deniedPrefixes).toContain('+882');
      expect((await db.callPolicies.get(tenantId)).allowedPrefixes).toEqual(['+88234']);
      await expect(db.callPolicies.update(tenantId, { deniedPrefixes: ['882'] })).rejects.toBeInstanceOf(ValidationError);
      await db.callPolicies.reset(tenantId);
      expect((await db.callPolicies.get(tenantId)).allowedPrefixes).toEqual([]);
    });

    it('a DID has one owner across tenants', async () => {
      const other = (await db.tenants.add({ domain: 'other.test' })).id;
      await db.dids.add({ number: '+49 30 555', tenantId });
      await expect(db.dids.add({ number: '+4930555', tenantId: other })).rejects.toBeInstanceOf(DuplicateError);
      expect((await db.dids.findByNumber('4930555'))?.tenantId).toBe(tenantId);
      expect(await db.dids.remove(other, '+4930555')).toBe(false);
      expect(await db.dids.remove(tenantId, '+4930555')).toBe(true);
    });
  });
}
