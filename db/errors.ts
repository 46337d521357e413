/** A row with the same natural key exists (tenant domain, account, user e-mail, provider name). Nothing was written. */
export class DuplicateError extends Error {
  readonly entity: string;
  readonly key: string;
  constructor(entity: string, key: string) {
    super(`${entity} ${key} already exists`);
    this.name = 'DuplicateError';
    this.entity = entity;
    this.key = key;
  }
}

export class NotFoundError extends Error {
  readonly entity: string;
  readonly key: string;
  constructor(entity: string, key: string) {
    super(`${entity} ${key} not found`);
    this.name = 'NotFoundError';
    this.entity = entity;
    this.key = key;
  }
}

/** Input a repository refuses (too long, wrong format); `field` names the offending input. */
export class ValidationError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** True for a unique/primary-key violation from better-sqlite3 or mysql2. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; errno?: unknown };
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e.code === 'ER_DUP_ENTRY' ||
    e.errno === 1062
  );
}
