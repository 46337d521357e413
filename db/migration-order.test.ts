import { Migrator, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './index.ts';
import { createMigrationProvider } from './migrations.ts';
import { createKysely, dialectOf } from './open-database.ts';
import type { DatabaseSchema } from './schema.ts';
import { testDatabaseTargets } from './test-databases.ts';

/**
 * Every area numbers its migrations in its own range, so a database can have run 0075 before a
 * later-merged 0012 exists: migrate() runs the newcomer instead of calling the history corrupt.
 */
describe.each(testDatabaseTargets())('migrations merged out of order on $dialect', (target) => {
  let url: string;
  let cleanup: () => Promise<void>;
  let raw: Kysely<DatabaseSchema> | undefined;
  let db: Database | undefined;

  beforeEach(async () => {
    const created = await target.create();
    url = created.url;
    cleanup = created.cleanup;
  });
  afterEach(async () => {
    await db?.close();
    await raw?.destroy();
    db = undefined;
    raw = undefined;
    await cleanup?.();
  });

  it('a database migrated without 0012_tenant_park gets it on the next migrate, tenants keep the switch default', async () => {
    raw = createKysely(url, dialectOf(url));
    const full = createMigrationProvider(dialectOf(url));
    const without = {
      getMigrations: async () => Object.fromEntries(Object.entries(await full.getMigrations()).filter(([name]) => name !== '0012_tenant_park')),
    };
    const first = await new Migrator({ db: raw, provider: without }).migrateToLatest();
    expect(first.error).toBeUndefined();
    await raw.insertInto('tenants').values({ domain: 'old.test', name: 'Old', created_at: 1 }).execute();
    await raw.destroy();
    raw = undefined;

    db = await openDatabase(url);
    expect(await db.migrate()).toEqual(['0012_tenant_park']);
    expect(await db.tenants.findByDomain('old.test')).toMatchObject({ parkSlots: null, parkRecallSeconds: null });
  });

  it('0062_tenant_kv_usage counts what each tenant already keeps (UTF-8 bytes), and a tenant with nothing starts at zero', async () => {
    raw = createKysely(url, dialectOf(url));
    const full = createMigrationProvider(dialectOf(url));
    const without = {
      getMigrations: async () => Object.fromEntries(Object.entries(await full.getMigrations()).filter(([name]) => name !== '0062_tenant_kv_usage')),
    };
    expect((await new Migrator({ db: raw, provider: without }).migrateToLatest()).error).toBeUndefined();
    await raw.insertInto('tenants').values([{ domain: 'kv-old.test', name: 'Old', created_at: 1 }, { domain: 'kv-empty.test', name: 'Empty', created_at: 1 }]).execute();
    const [used, empty] = await raw.selectFrom('tenants').select('id').orderBy('id').execute();
    await raw.insertInto('tenant_kv').values([{ tenant_id: used!.id, key: 'a', value: 'xyz' }, { tenant_id: used!.id, key: 'é', value: 'ü'.repeat(5) }]).execute();
    await raw.destroy();
    raw = undefined;

    db = await openDatabase(url, { kvQuota: { maxKeys: 3, maxBytes: 100 } });
    expect(await db.migrate()).toEqual(['0062_tenant_kv_usage']);
    expect(await db.kv.usage(used!.id)).toEqual({ keys: 2, bytes: 1 + 3 + 2 + 10 });
    expect(await db.kv.usage(empty!.id)).toEqual({ keys: 0, bytes: 0 });
    // The seeded figure is the one the quota checks: a third key fits, a fourth does not.
    await db.kv.write(used!.id, 'b', 'v');
    await expect(db.kv.write(used!.id, 'c', 'v')).rejects.toThrow(/at most 3 keys/);
  });
});
