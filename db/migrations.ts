import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { sealClearHa1s } from './repositories/ha1-sealing.ts';
import type { DatabaseSchema } from './schema.ts';

export type SqlDialectName = 'sqlite' | 'mysql';

/**
 * Migrations live in code (no files read at runtime) and use only the schema builder so they have
 * the same effect on SQLite and MySQL. MySQL needs explicit VARCHAR lengths on indexed columns and
 * MEDIUMTEXT for compiled dialplans/source maps that can exceed TEXT's 64 KiB.
 */
export function createMigrationProvider(dialect: SqlDialectName, secretKey?: Buffer): MigrationProvider {
  const bigText = dialect === 'mysql' ? sql`mediumtext` : sql`text`;
  const migrations: Record<string, Migration> = {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tenants')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('domain', 'varchar(255)', (c) => c.notNull().unique())
          .addColumn('name', 'varchar(255)', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('tenant_aliases')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('domain', 'varchar(255)', (c) => c.notNull().unique())
          .execute();

        await db.schema
          .createTable('users')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('tenant_id', 'integer', (c) => c.references('tenants.id').onDelete('cascade'))
          .addColumn('email', 'varchar(255)', (c) => c.notNull().unique())
          .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
          .addColumn('role', 'varchar(32)', (c) => c.notNull())
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('api_tokens')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('name', 'varchar(255)', (c) => c.notNull())
          .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('last_used_at', 'bigint')
          .execute();

        await db.schema
          .createTable('sip_accounts')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('username', 'varchar(128)', (c) => c.notNull())
          .addColumn('ha1_md5', 'varchar(32)', (c) => c.notNull())
          .addColumn('ha1_sha256', 'varchar(64)', (c) => c.notNull())
          .addColumn('out_dialplan', 'varchar(64)')
          .addColumn('in_dialplan', 'varchar(64)')
          .addColumn('incoming_only', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('nat_keepalive', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('allowed_cidrs', 'text', (c) => c.notNull())
          .addColumn('caller_id', 'varchar(255)')
          .addColumn('max_calls', 'integer')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('sip_accounts_tenant_username', ['tenant_id', 'username'])
          .execute();

        await db.schema
          .createTable('dialplans')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('name', 'varchar(64)', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('language', 'varchar(8)', (c) => c.notNull())
          .addColumn('source', bigText, (c) => c.notNull())
          .addColumn('compiled_js', bigText, (c) => c.notNull())
          .addColumn('source_map', bigText, (c) => c.notNull())
          .addColumn('author', 'varchar(255)')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('dialplans_tenant_name_version', ['tenant_id', 'name', 'version'])
          .execute();

        await db.schema
          .createTable('providers')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('name', 'varchar(64)', (c) => c.notNull())
          .addColumn('server_uri', 'varchar(512)', (c) => c.notNull())
          .addColumn('outbound_proxy', 'varchar(512)')
          .addColumn('username', 'varchar(255)')
          .addColumn('auth_user', 'varchar(255)')
          .addColumn('password_enc', 'text')
          .addColumn('register', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('register_expiry', 'integer', (c) => c.notNull())
          .addColumn('from_user', 'varchar(255)')
          .addColumn('custom_headers', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('providers_tenant_name', ['tenant_id', 'name'])
          .execute();

        await db.schema
          .createTable('provider_registrations')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade'))
          .addColumn('state', 'varchar(32)', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('last_error', 'text')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('registrar_bindings')
          .addColumn('id', 'varchar(191)', (c) => c.primaryKey())
          .addColumn('account_id', 'integer', (c) => c.notNull().references('sip_accounts.id').onDelete('cascade'))
          .addColumn('contact_uri', 'text', (c) => c.notNull())
          .addColumn('source_transport', 'varchar(8)', (c) => c.notNull())
          .addColumn('source_address', 'varchar(64)', (c) => c.notNull())
          .addColumn('source_port', 'integer', (c) => c.notNull())
          .addColumn('connection_id', 'varchar(191)')
          .addColumn('local_listener', 'varchar(191)')
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('q', 'real')
          .addColumn('call_id', 'varchar(255)', (c) => c.notNull())
          .addColumn('cseq', 'bigint', (c) => c.notNull())
          .addColumn('instance_id', 'varchar(255)')
          .addColumn('reg_id', 'integer')
          .addColumn('user_agent', 'varchar(255)')
          .addColumn('path', 'text', (c) => c.notNull())
          .addColumn('attributes', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('registrar_bindings_account').on('registrar_bindings').column('account_id').execute();

        await db.schema
          .createTable('cdrs')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('call_id', 'varchar(255)', (c) => c.notNull())
          .addColumn('tenant_id', 'integer', (c) => c.references('tenants.id').onDelete('set null'))
          .addColumn('caller', 'varchar(255)', (c) => c.notNull())
          .addColumn('callee', 'varchar(255)', (c) => c.notNull())
          .addColumn('direction', 'varchar(16)', (c) => c.notNull())
          .addColumn('dialplan', 'varchar(64)')
          .addColumn('legs', bigText, (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('ringing_at', 'bigint')
          .addColumn('answered_at', 'bigint')
          .addColumn('ended_at', 'bigint')
          .addColumn('duration_sec', 'integer', (c) => c.notNull())
          .addColumn('hangup_side', 'varchar(16)')
          .addColumn('hangup_cause', 'varchar(255)')
          .addColumn('status', 'varchar(32)', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('cdrs_tenant_started').on('cdrs').columns(['tenant_id', 'started_at']).execute();
        await db.schema.createIndex('cdrs_call_id').on('cdrs').column('call_id').execute();

        await db.schema
          .createTable('tenant_kv')
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('key', 'varchar(64)', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('tenant_kv_pk', ['tenant_id', 'key'])
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', 'varchar(255)', (c) => c.notNull())
          .addColumn('action', 'varchar(255)', (c) => c.notNull())
          .addColumn('target', 'varchar(512)')
          .addColumn('details', 'text')
          .addColumn('source_address', 'varchar(64)')
          .addColumn('tenant_id', 'integer')
          .execute();
        await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
      },
    },
    '0002_account_keepalive_method': {
      // Existing accounts keep today's behaviour (CRLF) through the column default.
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable('sip_accounts')
          .addColumn('keepalive_method', 'varchar(16)', (c) => c.notNull().defaultTo('crlf'))
          .execute();
      },
    },
    '0003_cdr_history': {
      // Nullable: rows written before this migration have none of these.
      async up(db: Kysely<unknown>) {
        for (const [name, type] of [['dial_strings', bigText], ['outcome', 'varchar(16)'], ['ring_sec', 'integer'], ['history', bigText]] as const) {
          await db.schema.alterTable('cdrs').addColumn(name, type).execute();
        }
      },
    },
    '0004_account_trust_udp_source': {
      // Off for every existing account: a UDP source address can be forged, so trusting it is an explicit choice.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('sip_accounts').addColumn('trust_udp_source', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
    '0005_seal_ha1': {
      // A sealed HA1 (v1:iv:tag:ciphertext, ~135 characters for SHA-256) does not fit the hex
      // widths. SQLite does not enforce VARCHAR lengths and cannot MODIFY a column, so only
      // MySQL is widened. Without the key (a bare `migrate` of a tool) the rows stay clear and
      // the next migrate() with the key seals them (open-database.ts).
      async up(db: Kysely<unknown>) {
        if (dialect === 'mysql') {
          await db.schema.alterTable('sip_accounts').modifyColumn('ha1_md5', 'varchar(255)', (c) => c.notNull()).execute();
          await db.schema.alterTable('sip_accounts').modifyColumn('ha1_sha256', 'varchar(255)', (c) => c.notNull()).execute();
        }
        if (secretKey) await sealClearHa1s(db as Kysely<DatabaseSchema>, secretKey);
      },
    },
    '0012_tenant_park': {
      // The tenant's own park slots (`first-last`) and recall seconds; null = the switch's
      // PATCHBAY_PARK_SLOTS / PATCHBAY_PARK_RECALL_SEC, so existing tenants keep what they had.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('tenants').addColumn('park_slots', 'varchar(16)').execute();
        await db.schema.alterTable('tenants').addColumn('park_recall_sec', 'integer').execute();
      },
    },
    '0020_sip_bans': {
      // Brute-force bans, so the CLI can list and lift them while the server runs and a restart keeps them.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('sip_bans')
          .addColumn('address', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('reason', 'varchar(64)', (c) => c.notNull())
          .addColumn('until', 'bigint', (c) => c.notNull())
          .addColumn('count', 'integer', (c) => c.notNull())
          .addColumn('banned_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0030_api_sessions': {
      // Browser sessions live server-side so they can be listed, revoked and timed out when idle;
      // the cookie holds a random token of which only the SHA-256 is stored. Existing API
      // tokens keep every scope they implicitly had.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('web_sessions')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
          .addColumn('csrf_token', 'varchar(64)', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('source_address', 'varchar(64)')
          .addColumn('user_agent', 'varchar(255)')
          .execute();
        await db.schema.createIndex('web_sessions_user').on('web_sessions').column('user_id').execute();
        await db.schema.alterTable('api_tokens').addColumn('scopes', 'varchar(64)', (c) => c.notNull().defaultTo('read,write,calls')).execute();
      },
    },
    '0031_two_factor': {
      // TOTP secrets are sealed with the secret key; recovery codes are stored as SHA-256 only.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('users').addColumn('totp_secret_enc', 'text').execute();
        await db.schema.alterTable('users').addColumn('totp_enabled', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('tenants').addColumn('require_2fa', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema
          .createTable('user_recovery_codes')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('code_hash', 'varchar(64)', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .execute();
        await db.schema.createIndex('user_recovery_codes_user').on('user_recovery_codes').column('user_id').execute();
      },
    },
    '0032_tenant_secrets': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tenant_secrets')
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('name', 'varchar(64)', (c) => c.notNull())
          .addColumn('value_enc', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('tenant_secrets_pk', ['tenant_id', 'name'])
          .execute();
      },
    },
    '0033_dialplan_message_audit_index': {
      // Versions written before this have no message (null).
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('dialplans').addColumn('message', 'varchar(512)').execute();
        await db.schema.createIndex('audit_log_tenant_at').on('audit_log').columns(['tenant_id', 'at']).execute();
      },
    },
    '0034_account_owner_display_name': {
      // The web user (a member) an account belongs to (null: only admins manage it), and the
      // name people see for the account in the web app and the switchboard.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('sip_accounts').addColumn('owner_user_id', 'integer').execute();
        await db.schema.alterTable('sip_accounts').addColumn('display_name', 'varchar(255)').execute();
      },
    },
    '0035_tenant_retention': {
      // How long a tenant's CDRs and audit entries are kept before the nightly purge (days).
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('tenants').addColumn('cdr_retention_days', 'integer', (c) => c.notNull().defaultTo(400)).execute();
        await db.schema.alterTable('tenants').addColumn('audit_retention_days', 'integer', (c) => c.notNull().defaultTo(400)).execute();
      },
    },
    '0050_provider_settings': {
      // One JSON column for the per-provider call settings (From host, PAI, number format, sources):
      // nullable, existing providers keep today's defaults.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('providers').addColumn('settings', bigText).execute();
      },
    },
    '0051_tenant_call_policies': {
      // No row = the documented default destination policy; a row holds the tenant's edited policy.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tenant_call_policies')
          .addColumn('tenant_id', 'integer', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
          .addColumn('policy', bigText, (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0052_dids': {
      // Inbound numbers: which tenant (and optionally provider, account, dialplan) a call to it belongs to.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('dids')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('number', 'varchar(32)', (c) => c.notNull().unique())
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('provider_id', 'integer', (c) => c.references('providers.id').onDelete('cascade'))
          .addColumn('account_username', 'varchar(255)')
          .addColumn('dialplan', 'varchar(255)')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0060_cdr_record_key': {
      // The write journal's idempotency key: a CDR replayed after a crash or an outage is written once.
      // Nullable (rows from before have none); a unique index allows many NULLs on both dialects.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('cdrs').addColumn('record_key', 'varchar(64)').execute();
        await db.schema.createIndex('cdrs_record_key').unique().on('cdrs').column('record_key').execute();
      },
    },
    '0061_audit_record_key': {
      // The write journal's key for the audit rows it writes (a *78 from a phone): replayed after a
      // crash or an outage, the change and its row land once. Nullable; API rows have none.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('audit_log').addColumn('record_key', 'varchar(64)').execute();
        await db.schema.createIndex('audit_log_record_key').unique().on('audit_log').column('record_key').execute();
      },
    },
    '0062_tenant_kv_usage': {
      // Each tenant's key/value usage in one row, so a write checks its quota without scanning the
      // tenant's keys; every tenant gets its row, counted from what it keeps (UTF-8 bytes).
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('tenant_kv_usage')
          .addColumn('tenant_id', 'integer', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
          .addColumn('key_count', 'integer', (c) => c.notNull())
          .addColumn('byte_count', 'bigint', (c) => c.notNull())
          .execute();
        const size = dialect === 'mysql' ? sql`LENGTH(kv.${sql.ref('key')}) + LENGTH(kv.${sql.ref('value')})` : sql`length(CAST(kv.${sql.ref('key')} AS BLOB)) + length(CAST(kv.${sql.ref('value')} AS BLOB))`;
        await sql`INSERT INTO tenant_kv_usage (tenant_id, key_count, byte_count)
          SELECT t.id, COUNT(kv.tenant_id), COALESCE(SUM(${size}), 0) FROM tenants t LEFT JOIN tenant_kv kv ON kv.tenant_id = t.id GROUP BY t.id`.execute(db);
      },
    },
    '0070_contacts': {
      // The tenant phonebook (switchboard caller names). `search` is the lower-cased name, company,
      // numbers as typed and as normalised, so one LIKE serves `q` the same on both dialects.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('contacts')
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('tenant_id', 'integer', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('name', 'varchar(255)', (c) => c.notNull())
          .addColumn('company', 'varchar(255)')
          .addColumn('numbers', 'text', (c) => c.notNull())
          .addColumn('note', 'text')
          .addColumn('search', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('contacts_tenant_name').on('contacts').columns(['tenant_id', 'name', 'id']).execute();
      },
    },
    '0071_cdr_note': {
      // The switchboard's call note as it was when the call ended (null: none was written).
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('cdrs').addColumn('note', 'text').execute();
      },
    },
    '0075_account_dnd': {
      // Do-not-disturb: calls to the account fail its leg with 486 (the dialplan's busy path).
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('sip_accounts').addColumn('dnd', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
  };
  return { getMigrations: async () => migrations };
}
