import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Migrator, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestHa1, openDatabase, type Database } from './index.ts';
import { createMigrationProvider } from './migrations.ts';
import { createKysely, dialectOf } from './open-database.ts';
import { Ha1UnreadableError } from './repositories/ha1-sealing.ts';
import type { DatabaseSchema } from './schema.ts';
import { testDatabaseTargets } from './test-databases.ts';

const secretKey = randomBytes(32);
const PASSWORD = 'correct horse battery staple';

function clearHa1s(username: string, realm: string, password = PASSWORD): string[] {
  return [digestHa1('MD5', username, realm, password), digestHa1('SHA-256', username, realm, password)];
}

async function accountRows(kysely: Kysely<DatabaseSchema>) {
  return kysely.selectFrom('sip_accounts').selectAll().orderBy('id').execute();
}

describe.each(testDatabaseTargets())('HA1s at rest on $dialect', (target) => {
  let url: string;
  let cleanup: () => Promise<void>;
  let db: Database;
  let raw: Kysely<DatabaseSchema> | undefined;

  beforeEach(async () => {
    const created = await target.create();
    url = created.url;
    cleanup = created.cleanup;
  });
  afterEach(async () => {
    await db?.close();
    await raw?.destroy();
    raw = undefined;
    await cleanup?.();
  });

  async function openWithKey(): Promise<Database> {
    db = await openDatabase(url, { secretKey });
    await db.migrate();
    raw ??= createKysely(url, dialectOf(url));
    return db;
  }

  it('stores them sealed, gives callers the clear HA1s, and no row holds a clear HA1', async () => {
    await openWithKey();
    await db.tenants.add({ domain: 'acme.test' });
    const added = await db.accounts.add({ username: '1001', domain: 'acme.test', password: PASSWORD });
    await db.accounts.add({ username: '1002', domain: 'acme.test', password: PASSWORD });
    await db.accounts.setPassword('1002', 'acme.test', 'changed');
    const [md5, sha256] = clearHa1s('1001', 'acme.test');

    expect(added).toMatchObject({ ha1Md5: md5, ha1Sha256: sha256 });
    expect(await db.accounts.findForAuth('1001', 'acme.test')).toMatchObject({ ha1Md5: md5, ha1Sha256: sha256 });
    expect((await db.accounts.get(added.id))?.ha1Md5).toBe(md5);
    expect((await db.accounts.listAll()).map((a) => a.ha1Sha256)).toEqual([sha256, clearHa1s('1002', 'acme.test', 'changed')[1]]);
    expect((await db.accounts.listByDomain('acme.test')).map((a) => a.ha1Md5)).toEqual([md5, clearHa1s('1002', 'acme.test', 'changed')[0]]);

    const dump = JSON.stringify(await accountRows(raw!));
    for (const clear of [...clearHa1s('1001', 'acme.test'), ...clearHa1s('1002', 'acme.test'), ...clearHa1s('1002', 'acme.test', 'changed')]) {
      expect(dump).not.toContain(clear);
    }
    for (const row of await accountRows(raw!)) {
      expect(row.ha1_md5).toMatch(/^v1:/);
      expect(row.ha1_sha256).toMatch(/^v1:/);
    }
  });

  it('refuses a ciphertext moved from another row, or MD5 and SHA-256 swapped', async () => {
    await openWithKey();
    await db.tenants.add({ domain: 'acme.test' });
    await db.tenants.add({ domain: 'other.test' });
    const victim = await db.accounts.add({ username: '1001', domain: 'acme.test', password: 'victim-pass' });
    const attacker = await db.accounts.add({ username: '1001', domain: 'other.test', password: PASSWORD });
    const attackerRow = (await accountRows(raw!)).find((row) => row.id === attacker.id)!;

    // Someone who can write the table but has no key tries to give the victim a known password.
    await raw!.updateTable('sip_accounts').set({ ha1_md5: attackerRow.ha1_md5, ha1_sha256: attackerRow.ha1_sha256 }).where('id', '=', victim.id).execute();
    await expect(db.accounts.findForAuth('1001', 'acme.test')).rejects.toThrow(Ha1UnreadableError);
    await expect(db.accounts.findForAuth('1001', 'acme.test')).rejects.toThrow(/1001@acme\.test.*does not decrypt/);

    await raw!.updateTable('sip_accounts').set({ ha1_md5: attackerRow.ha1_sha256, ha1_sha256: attackerRow.ha1_md5 }).where('id', '=', attacker.id).execute();
    await expect(db.accounts.get(attacker.id)).rejects.toThrow(Ha1UnreadableError);

    // Nor is a clear HA1 written behind the repository's back accepted while the key is set.
    await raw!.updateTable('sip_accounts').set({ ha1_md5: clearHa1s('1001', 'acme.test')[0]!, ha1_sha256: clearHa1s('1001', 'acme.test')[1]! }).where('id', '=', victim.id).execute();
    await expect(db.accounts.findForAuth('1001', 'acme.test')).rejects.toThrow(/stored in clear/);
    // ...until migrate() seals it.
    await db.migrate();
    expect((await db.accounts.findForAuth('1001', 'acme.test'))?.ha1Md5).toBe(clearHa1s('1001', 'acme.test')[0]);
  });

  it('migration 0005 seals the HA1s of existing accounts', async () => {
    raw = createKysely(url, dialectOf(url));
    const migrator = new Migrator({ db: raw, provider: createMigrationProvider(dialectOf(url), secretKey) });
    const upTo4 = await migrator.migrateTo('0004_account_trust_udp_source');
    expect(upTo4.error).toBeUndefined();
    const tenant = await raw!.insertInto('tenants').values({ domain: 'old.test', name: 'Old', created_at: 1 }).executeTakeFirstOrThrow();
    const tenantId = Number(tenant.insertId);
    for (const username of ['2001', '2002']) {
      const [md5, sha256] = clearHa1s(username, 'old.test');
      await raw!
        .insertInto('sip_accounts')
        .values({
          tenant_id: tenantId, username, ha1_md5: md5!, ha1_sha256: sha256!, out_dialplan: null, in_dialplan: null,
          incoming_only: 0, disabled: 0, nat_keepalive: 1, keepalive_method: 'crlf', allowed_cidrs: '[]', trust_udp_source: 0, caller_id: null, max_calls: null,
          created_at: 1, updated_at: 1,
        })
        .execute();
    }

    db = await openDatabase(url, { secretKey });
    // Later migrations (0050…) run too; what matters here is that 0005 sealed the rows.
    expect(await db.migrate()).toContain('0005_seal_ha1');
    const dump = JSON.stringify(await accountRows(raw!));
    for (const username of ['2001', '2002']) {
      for (const clear of clearHa1s(username, 'old.test')) expect(dump).not.toContain(clear);
      expect(await db.accounts.findForAuth(username, 'old.test')).toMatchObject({
        ha1Md5: clearHa1s(username, 'old.test')[0],
        ha1Sha256: clearHa1s(username, 'old.test')[1],
      });
    }
  });

  it('opened without the key: HA1s are written in clear, sealed ones are an error on access, the rest reads', async () => {
    await openWithKey();
    await db.tenants.add({ domain: 'acme.test' });
    await db.accounts.add({ username: '1001', domain: 'acme.test', password: PASSWORD, outDialplan: 'default' });
    await db.close();

    db = await openDatabase(url);
    const bare = (await db.accounts.findForAuth('1001', 'acme.test'))!;
    expect(bare.outDialplan).toBe('default');
    expect(() => bare.ha1Md5).toThrow(/encrypted and the database was opened without the secret key/);
    await db.accounts.add({ username: '1002', domain: 'acme.test', password: PASSWORD });
    expect((await db.accounts.findForAuth('1002', 'acme.test'))?.ha1Md5).toBe(clearHa1s('1002', 'acme.test')[0]);
    await db.close();

    // The switch's next start (migrate with the key) seals what the tool wrote.
    await openWithKey();
    expect(JSON.stringify(await accountRows(raw!))).not.toContain(clearHa1s('1002', 'acme.test')[0]);
    expect((await db.accounts.findForAuth('1002', 'acme.test'))?.ha1Sha256).toBe(clearHa1s('1002', 'acme.test')[1]);
  });
});

describe('SQLite file modes', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the database folder 0700 and the database (and its WAL) 0600', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'patchbay-modes-'));
    dirs.push(parent);
    const file = path.join(parent, 'data', 'patchbay.db');
    const db = await openDatabase(`sqlite:${file}`, { secretKey });
    try {
      await db.migrate();
      await db.tenants.add({ domain: 'modes.test' });
      expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        if (existsSync(f)) expect({ f, mode: statSync(f).mode & 0o777 }).toEqual({ f, mode: 0o600 });
      }
      expect(existsSync(`${file}-wal`)).toBe(true);
    } finally {
      await db.close();
    }
  });
});
