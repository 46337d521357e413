import { sql, type InsertResult, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { SqlDialectName } from '../migrations.ts';
import type { WebPasswordScrypt } from '../secrets.ts';
import type { DatabaseSchema } from '../schema.ts';

export interface RepositoryContext {
  db: Kysely<DatabaseSchema>;
  dialect: SqlDialectName;
  secretKey?: Buffer;
  /** Web password hashing cost; default WEB_PASSWORD_SCRYPT (OWASP). Lower only in tests. */
  webPasswordScrypt?: WebPasswordScrypt;
  /** Per-tenant bounds of the key/value store (kv-repository.ts). */
  kvQuota?: { maxKeys: number; maxBytes: number };
}

export function insertedId(result: InsertResult): number {
  if (result.insertId === undefined) throw new Error('insert returned no id');
  return Number(result.insertId);
}

export const toBool = (v: number | null | undefined): boolean => Number(v) === 1;
export const fromBool = (v: boolean | undefined, fallback: boolean): number => ((v ?? fallback) ? 1 : 0);

export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase();
}

export function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/**
 * Runs `fn` in a transaction, or inside the one `db` already is: Kysely cannot nest
 * transactions, and a repository bound to a caller's transaction (Database.transaction) must
 * join it so the change and its audit row commit or roll back together.
 */
export function inTransaction<T>(db: RepositoryContext['db'], fn: (trx: RepositoryContext['db']) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

/** `text` as a LIKE pattern that matches it literally (escape character `!`, see likeColumn). */
export function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

/**
 * `column LIKE pattern ESCAPE '!'`: SQLite has no default LIKE escape and MySQL's is a
 * backslash, so the escape is spelled out for both.
 */
export function likeColumn(column: string, pattern: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '!'`;
}

/**
 * `column` contains `text`, letter case aside: lowered on both sides because SQLite's LIKE
 * ignores only ASCII case and MariaDB's follows the column collation, which may be binary.
 */
export function containsText(column: string, text: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${`%${escapeLike(text.toLowerCase())}%`} escape '!'`;
}
