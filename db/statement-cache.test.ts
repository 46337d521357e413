import { describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { sqliteDriver } from './sqlite-driver.ts';
import { withStatementCache } from './statement-cache.ts';

describe('withStatementCache', () => {
  it('prepares each SQL text once, keeps results right, and streams while other queries wait their turn', async () => {
    const raw = new (sqliteDriver())(':memory:');
    let prepared = 0;
    const counting = { prepare: (text: string) => (prepared++, raw.prepare(text)), close: () => raw.close() };
    const db = new Kysely<{ t: { id: number; v: string } }>({ dialect: new SqliteDialect({ database: withStatementCache(counting) }) });
    try {
      await sql`create table t (id integer primary key, v text)`.execute(db);
      for (let i = 1; i <= 50; i++) await db.insertInto('t').values({ id: i, v: `v${i}` }).execute();
      const afterInserts = prepared;
      expect(afterInserts).toBe(2); // the create, and one insert text for all fifty rows
      expect((await db.selectFrom('t').select('v').where('id', '=', 7).executeTakeFirst())?.v).toBe('v7');
      expect((await db.selectFrom('t').select('v').where('id', '=', 8).executeTakeFirst())?.v).toBe('v8');
      expect(prepared).toBe(afterInserts + 1);

      // A streamed select holds the connection; a query issued meanwhile runs after it, on the same cached statement.
      const seen: string[] = [];
      const concurrent = db.selectFrom('t').select('v').where('id', '=', 9).executeTakeFirst();
      for await (const row of db.selectFrom('t').select('v').where('id', '<=', 3).orderBy('id').stream()) seen.push(row.v);
      expect(seen).toEqual(['v1', 'v2', 'v3']);
      expect((await concurrent)?.v).toBe('v9');
    } finally {
      await db.destroy();
    }
  });

  it('drops the oldest texts past its bound', () => {
    const made: string[] = [];
    const fake = { prepare: (text: string) => (made.push(text), { reader: true, all: () => [], run: () => ({ changes: 0, lastInsertRowid: 0 }), iterate: () => [][Symbol.iterator]() }), close: () => {} };
    const cached = withStatementCache(fake, 2);
    cached.prepare('a');
    cached.prepare('b');
    cached.prepare('a');
    cached.prepare('c'); // evicts a
    cached.prepare('b');
    cached.prepare('a');
    expect(made).toEqual(['a', 'b', 'c', 'a']);
  });
});
