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
});
