import type { InsertResult, Kysely } from 'kysely';
import type { SqlDialectName } from '../migrations.ts';
import type { DatabaseSchema } from '../schema.ts';

export interface RepositoryContext {
  db: Kysely<DatabaseSchema>;
  dialect: SqlDialectName;
  secretKey?: Buffer;
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
