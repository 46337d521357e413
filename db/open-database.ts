import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { sqliteDriver } from './sqlite-driver.ts';
import { withStatementCache } from './statement-cache.ts';
import { Kysely, Migrator, MysqlDialect, SqliteDialect, sql } from 'kysely';
import { createMigrationProvider, type SqlDialectName } from './migrations.ts';
import { AccountsRepository } from './repositories/accounts-repository.ts';
import { AuditRepository } from './repositories/audit-repository.ts';
import { BindingsRepository } from './repositories/bindings-repository.ts';
import { CallPoliciesRepository } from './repositories/call-policies-repository.ts';
import { DidsRepository } from './repositories/dids-repository.ts';
import { CdrsRepository } from './repositories/cdrs-repository.ts';
import type { RepositoryContext } from './repositories/context.ts';
import { DialplansRepository } from './repositories/dialplans-repository.ts';
import { sealClearHa1s } from './repositories/ha1-sealing.ts';
import { KvRepository, type KvQuota } from './repositories/kv-repository.ts';
import { ProviderRegistrationsRepository, ProvidersRepository } from './repositories/providers-repository.ts';
import { TenantsRepository } from './repositories/tenants-repository.ts';
import { TokensRepository } from './repositories/tokens-repository.ts';
import { UsersRepository } from './repositories/users-repository.ts';
import { SipBansRepository } from './repositories/sip-bans-repository.ts';
import { SessionsRepository } from './repositories/sessions-repository.ts';
import { TenantSecretsRepository } from './repositories/tenant-secrets-repository.ts';
import { ContactsRepository } from './repositories/contacts-repository.ts';
import type { DatabaseSchema } from './schema.ts';
import type { WebPasswordScrypt } from './secrets.ts';

/** The repositories, over the pool or over one transaction. */
export interface Repositories {
  readonly dialect: SqlDialectName;
  readonly tenants: TenantsRepository;
  readonly accounts: AccountsRepository;
  readonly dialplans: DialplansRepository;
  readonly users: UsersRepository;
  readonly tokens: TokensRepository;
  readonly providers: ProvidersRepository;
  readonly providerRegistrations: ProviderRegistrationsRepository;
  readonly callPolicies: CallPoliciesRepository;
  readonly dids: DidsRepository;
  readonly bindings: BindingsRepository;
  readonly cdrs: CdrsRepository;
  readonly kv: KvRepository;
  readonly audit: AuditRepository;
  readonly bans: SipBansRepository;
  readonly sessions: SessionsRepository;
  readonly secrets: TenantSecretsRepository;
  readonly contacts: ContactsRepository;
}

function buildRepositories(ctx: RepositoryContext): Repositories {
  const tenants = new TenantsRepository(ctx);
  return {
    dialect: ctx.dialect,
    tenants,
    accounts: new AccountsRepository(ctx, tenants),
    dialplans: new DialplansRepository(ctx),
    users: new UsersRepository(ctx),
    tokens: new TokensRepository(ctx),
    providers: new ProvidersRepository(ctx),
    providerRegistrations: new ProviderRegistrationsRepository(ctx),
    callPolicies: new CallPoliciesRepository(ctx),
    dids: new DidsRepository(ctx),
    bindings: new BindingsRepository(ctx),
    cdrs: new CdrsRepository(ctx),
    kv: new KvRepository(ctx),
    audit: new AuditRepository(ctx),
    sessions: new SessionsRepository(ctx),
    secrets: new TenantSecretsRepository(ctx),
    bans: new SipBansRepository(ctx),
    contacts: new ContactsRepository(ctx),
  };
}

/** The repositories over the pool, plus what only the whole database can do. */
export interface Database extends Repositories {
  /**
   * Runs `fn` with repositories bound to one transaction: all of it commits or none (a change
   * and its audit row). Use only `tx` inside: on SQLite the pool is that one connection.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /**
   * SQLite only: a consistent copy of the live database into `file` (VACUUM INTO), taken while the
   * switch keeps running. Throws on MySQL (back that up with its own tools).
   */
  backupTo(file: string): Promise<void>;
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  /** A cheap round trip, for health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /**
   * AES-256 key (Config.secretKey) for provider passwords and SIP account HA1s. The switch always
   * gives it; without it (tools, tests) HA1s are written in clear and sealed ones cannot be read.
   */
  secretKey?: Buffer;
  /** Web password scrypt cost; default N=2^17, r=8, p=1. Tests lower it to stay fast. */
  webPasswordScrypt?: WebPasswordScrypt;
  /** Per-tenant bounds of the dialplans' key/value store; default KV_DEFAULT_QUOTA. */
  kvQuota?: KvQuota;
}

export function dialectOf(url: string): SqlDialectName {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^(mysql|mariadb):\/\//.test(url)) return 'mysql';
  throw new Error(`unsupported database URL (expected sqlite:<path> or mysql://...): ${url.replace(/\/\/[^@/]*@/, '//***@')}`);
}

function sqlitePath(url: string): string {
  const rest = url.slice('sqlite:'.length);
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

/**
 * The SQLite file holds HA1s and encrypted secrets: created 0600 (SQLite gives its -wal/-shm
 * files the database file's mode) in a folder created 0700. An existing folder is left alone:
 * it may be shared (sqlite:/tmp/x.db); Patchbay's own data dir is made 0700 by config.
 */
function createPrivateFile(file: string): void {
  const resolved = path.resolve(file);
  mkdirSync(path.dirname(resolved), { recursive: true, mode: 0o700 });
  closeSync(openSync(resolved, 'a', 0o600));
  chmodSync(resolved, 0o600);
}

/** Exported for the migration tests only; everything else goes through openDatabase. */
export function createKysely(url: string, dialect: SqlDialectName): Kysely<DatabaseSchema> {
  if (dialect === 'sqlite') {
    const file = sqlitePath(url);
    if (file !== ':memory:') createPrivateFile(file);
    const sqlite = new (sqliteDriver())(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    return new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  }
  // mysql2 (with its charset tables and parser caches) loads only for a MySQL database: a SQLite
  // switch never pays for it. Kysely asks for the pool at the first query.
  const pool = async () => (await import('mysql2')).createPool({
    uri: url.replace(/^mariadb:/, 'mysql:'),
    connectionLimit: 10,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
  });
  return new Kysely<DatabaseSchema>({ dialect: new MysqlDialect({ pool }) });
}

/** Opens the database behind `url` (sqlite:<path> or mysql://user:pass@host:port/db). Call migrate() before use. */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const dialect = dialectOf(url);
  const db = createKysely(url, dialect);
  const ctx: RepositoryContext = {
    db,
    dialect,
    ...(options.secretKey && { secretKey: options.secretKey }),
    ...(options.webPasswordScrypt && { webPasswordScrypt: options.webPasswordScrypt }),
    ...(options.kvQuota && { kvQuota: options.kvQuota }),
  };
  let closed = false;
  return {
    ...buildRepositories(ctx),
    transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      return db.transaction().execute((trx) => fn(buildRepositories({ ...ctx, db: trx })));
    },
    async migrate() {
      // Each area numbers its migrations in its own range, so a database that already ran 0075 may
      // meet a later-merged 0012: run it, don't call the history corrupt.
      const migrator = new Migrator({ db, provider: createMigrationProvider(dialect, options.secretKey), allowUnorderedMigrations: true });
      const { error, results } = await migrator.migrateToLatest();
      if (error) {
        const failed = results?.find((r) => r.status === 'Error');
        throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      // Rows a keyless tool wrote since the last migrate() are sealed now.
      if (options.secretKey) await sealClearHa1s(db, options.secretKey);
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    },
    async backupTo(file: string) {
      if (dialect !== 'sqlite') throw new Error('online backup is for SQLite; back up MySQL/MariaDB with its own tools');
      await sql`VACUUM INTO ${file}`.execute(db);
    },
    async ping() {
      await db.selectFrom('tenants').select('id').limit(1).execute();
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
