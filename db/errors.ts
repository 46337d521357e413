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

/** Driver error codes that mean "the database cannot be reached now", not "this statement is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_LOCK_WAIT_TIMEOUT',
  'ER_CONNECTION_KILLED', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN',
]);

/**
 * True when `err` says the database is unreachable or overloaded (worth retrying later), false
 * for an error of the statement itself (a constraint, bad data), which a retry cannot fix.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; fatal?: unknown; message?: unknown };
  if (e.fatal === true) return true;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
  return typeof e.message === 'string' && /Pool is closed|Connection lost|connect ETIMEDOUT|Can't add new command when connection is in closed state/i.test(e.message);
}
