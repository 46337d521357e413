import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../db/index.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { InboundProviderMatcher } from './inbound-matcher.ts';
import type { ProviderRecord } from './provider-directory.ts';

/** Who may reach a tenant through its DIDs and registered contacts (both database dialects). */
for (const target of testDatabaseTargets()) {
  describe(`inbound provider matching (${target.dialect})`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    let matcher: InboundProviderMatcher;
    let registered: ProviderRecord | undefined;

    beforeAll(async () => {
      const created = await target.create();
      cleanup = created.cleanup;
      db = await openDatabase(created.url, { secretKey: Buffer.alloc(32, 7) });
      await db.migrate();
      const t = await db.tenants.add({ domain: 'acme.test' });
      const other = await db.tenants.add({ domain: 'other.test' });
      const gizmo = await db.providers.add({ tenantId: t.id, name: 'gizmo', serverUri: 'sip:gizmo.example', settings: { sourceNetworks: ['198.51.100.0/24'] } });
      await db.providers.add({ tenantId: t.id, name: 'ip', serverUri: 'sip:203.0.113.7:5080' });
      await db.providers.add({ tenantId: other.id, name: 'theirs', serverUri: 'sip:192.0.2.99' });
      await db.dids.add({ number: '+4930111', tenantId: t.id, providerId: gizmo.id, accountUsername: '1001' });
      await db.dids.add({ number: '+4930222', tenantId: t.id });
      registered = { ...gizmo, password: undefined };
      matcher = new InboundProviderMatcher({
        db,
        registeredContact: (user) => (user === `gizmo-${t.id}` ? registered : undefined),
        resolve: async (host) => (host === 'gizmo.example' ? ['192.0.2.10'] : []),
      });
    }, 60_000);

    afterAll(async () => {
      await db?.close();
      await cleanup?.();
    });

    it('a DID from its provider\'s resolved host or source network is that provider\'s call', async () => {
      expect(await matcher.match({ requestUser: '+4930111', sourceAddress: '192.0.2.10' })).toMatchObject({
        kind: 'provider', provider: { name: 'gizmo' }, did: '+4930111', accountUsername: '1001', tenant: { domain: 'acme.test' },
      });
      expect(await matcher.match({ requestUser: '4930111', sourceAddress: '198.51.100.42' })).toMatchObject({ kind: 'provider', did: '+4930111' });
    });

    it('the same DID from anywhere else is refused, even from another provider of the tenant', async () => {
      expect(await matcher.match({ requestUser: '+4930111', sourceAddress: '203.0.113.66' })).toEqual({ kind: 'refused', reason: 'Not from the provider' });
      expect(await matcher.match({ requestUser: '+4930111', sourceAddress: '203.0.113.7' })).toEqual({ kind: 'refused', reason: 'Not from the provider' });
      expect(await matcher.match({ requestUser: '+4930111', sourceAddress: '::ffff:192.0.2.10' })).toMatchObject({ kind: 'provider' });
    });

    it('a DID without a provider takes any provider of its tenant, never another tenant\'s', async () => {
      expect(await matcher.match({ requestUser: '+4930222', sourceAddress: '203.0.113.7' })).toMatchObject({ kind: 'provider', provider: { name: 'ip' } });
      expect(await matcher.match({ requestUser: '+4930222', sourceAddress: '192.0.2.99' })).toEqual({ kind: 'refused', reason: 'Not from the provider' });
    });

    it('a registered contact only from the provider; other users are not provider calls', async () => {
      const id = registered!.tenantId;
      expect(await matcher.match({ requestUser: `gizmo-${id}`, toUser: '+4930111', sourceAddress: '192.0.2.10' })).toMatchObject({ kind: 'provider', did: '+4930111' });
      expect(await matcher.match({ requestUser: `gizmo-${id}`, sourceAddress: '203.0.113.66' })).toEqual({ kind: 'refused', reason: 'Not from the provider' });
      expect(await matcher.match({ requestUser: '1001', sourceAddress: '192.0.2.10' })).toEqual({ kind: 'none' });
      expect(await matcher.match({ requestUser: '+4930333', sourceAddress: '192.0.2.10' })).toEqual({ kind: 'none' });
    });
  });
}
