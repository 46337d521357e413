import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept prepared. Values are always parameters, so the texts come from our own queries (and IN-list lengths). */
export const STATEMENT_CACHE_SIZE = 512;

/**
 * Kysely's SQLite driver prepares every query anew; on the write-behind paths (bindings at each
 * REGISTER, CDR batches) that was a native statement compiled and finalized per query, about 1 %
 * of the main thread plus the garbage collector's work. Reusing a prepared statement per SQL
 * text is safe here because Kysely runs one query at a time on its single SQLite connection (a
 * mutex held for a whole streamed query too), so a statement is never in use twice at once.
 * Oldest texts are dropped past `limit`.
 */
export function withStatementCache(db: SqliteDatabase, limit = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    prepare(sql) {
      const hit = cache.get(sql);
      if (hit) return hit;
      const statement = db.prepare(sql);
      if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
      cache.set(sql, statement);
      return statement;
    },
    close() {
      cache.clear();
      db.close();
    },
  };
}
