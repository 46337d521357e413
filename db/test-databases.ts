import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';

/**
 * Test support: a fresh database per dialect. MySQL uses PATCHBAY_TEST_MYSQL (default
 * mysql://root@127.0.0.1:3306), creates `patchbay_t_<random>` and drops it in cleanup;
 * PATCHBAY_TEST_MYSQL=off leaves MySQL out.
 */
export interface TestDatabaseTarget {
  dialect: 'sqlite' | 'mysql';
  /** Creates a fresh empty database and returns its URL plus a cleanup function. */
  create(): Promise<{ url: string; cleanup(): Promise<void> }>;
}

export const MYSQL_TEST_SERVER = process.env['PATCHBAY_TEST_MYSQL'] ?? 'mysql://root@127.0.0.1:3306';

export function testDatabaseTargets(): TestDatabaseTarget[] {
  const targets: TestDatabaseTarget[] = [
    {
      dialect: 'sqlite',
      async create() {
        const dir = mkdtempSync(path.join(tmpdir(), 'patchbay-db-'));
        return { url: `sqlite:${path.join(dir, 'test.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  if (MYSQL_TEST_SERVER !== 'off') {
    targets.push({
      dialect: 'mysql',
      async create() {
        const name = `patchbay_t_${randomBytes(6).toString('hex')}`;
        const server = MYSQL_TEST_SERVER.replace(/\/+$/, '');
        const conn = await createConnection({ uri: server });
        await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
        await conn.end();
        return {
          url: `${server}/${name}`,
          async cleanup() {
            const c = await createConnection({ uri: server });
            await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
            await c.end();
          },
        };
      },
    });
  }
  return targets;
}
