import type { Generated } from 'kysely';

// Times are epoch milliseconds in BIGINT columns: identical on SQLite and MySQL, no timezone surprises.
// Booleans are 0/1 integers for the same reason.

export interface TenantsTable {
  id: Generated<number>;
  domain: string;
  name: string;
  created_at: number;
  require_2fa: Generated<number>;
  cdr_retention_days: Generated<number>;
  audit_retention_days: Generated<number>;
  /** `first-last`; null = the switch default (PATCHBAY_PARK_SLOTS). */
  park_slots: string | null;
  /** null = the switch default (PATCHBAY_PARK_RECALL_SEC). */
  park_recall_sec: number | null;
}

export interface TenantAliasesTable {
  id: Generated<number>;
  tenant_id: number;
  domain: string;
}

export interface UsersTable {
  id: Generated<number>;
  tenant_id: number | null;
  email: string;
  password_hash: string;
  role: string;
  disabled: number;
  created_at: number;
  /** Sealed TOTP secret (enrolled or pending confirmation); null when never enrolled. */
  totp_secret_enc: Generated<string | null>;
  totp_enabled: Generated<number>;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  /** Comma-separated subset of read,write,calls. */
  scopes: Generated<string>;
}

export interface SipAccountsTable {
  id: Generated<number>;
  tenant_id: number;
  username: string;
  ha1_md5: string;
  ha1_sha256: string;
  out_dialplan: string | null;
  in_dialplan: string | null;
  incoming_only: number;
  disabled: number;
  nat_keepalive: number;
  /** 'crlf' | 'options' (validated by the repository). */
  keepalive_method: string;
  trust_udp_source: number;
  allowed_cidrs: string;
  caller_id: string | null;
  max_calls: number | null;
  created_at: number;
  updated_at: number;
  owner_user_id: Generated<number | null>;
  display_name: Generated<string | null>;
  /** Do-not-disturb (0/1). */
  dnd: Generated<number>;
}

export interface DialplansTable {
  id: Generated<number>;
  tenant_id: number;
  name: string;
  version: number;
  language: string;
  source: string;
  compiled_js: string;
  source_map: string;
  author: string | null;
  created_at: number;
  message: Generated<string | null>;
}

export interface ProvidersTable {
  id: Generated<number>;
  tenant_id: number;
  name: string;
  server_uri: string;
  outbound_proxy: string | null;
  username: string | null;
  auth_user: string | null;
  password_enc: string | null;
  register: number;
  register_expiry: number;
  from_user: string | null;
  custom_headers: string;
  created_at: number;
  /** JSON ProviderSettings (migration 0050); null = defaults. */
  settings?: string | null;
}

export interface TenantCallPoliciesTable {
  tenant_id: number;
  /** JSON destination policy (migration 0051). */
  policy: string;
  updated_at: number;
}

export interface DidsTable {
  id: Generated<number>;
  number: string;
  tenant_id: number;
  provider_id: number | null;
  account_username: string | null;
  dialplan: string | null;
  created_at: number;
}

export interface ProviderRegistrationsTable {
  provider_id: number;
  state: string;
  expires_at: number | null;
  last_error: string | null;
  updated_at: number;
}

export interface RegistrarBindingsTable {
  id: string;
  account_id: number;
  contact_uri: string;
  source_transport: string;
  source_address: string;
  source_port: number;
  connection_id: string | null;
  local_listener: string | null;
  expires_at: number;
  q: number | null;
  call_id: string;
  cseq: number;
  instance_id: string | null;
  reg_id: number | null;
  user_agent: string | null;
  path: string;
  attributes: string;
}

export interface CdrsTable {
  id: Generated<number>;
  call_id: string;
  tenant_id: number | null;
  caller: string;
  callee: string;
  direction: string;
  dialplan: string | null;
  legs: string;
  started_at: number;
  ringing_at: number | null;
  answered_at: number | null;
  ended_at: number | null;
  duration_sec: number;
  hangup_side: string | null;
  hangup_cause: string | null;
  status: string;
  /** JSON array of the dial strings the dialplan ran. */
  dial_strings: string | null;
  outcome: string | null;
  ring_sec: number | null;
  /** JSON array of what happened to the call after it was set up (transfers, later hold/park). */
  history: string | null;
  /** The switchboard's call note when the call ended (migration 0071). */
  note: Generated<string | null>;
  /** Idempotency key of the write journal (unique); null on rows written before it. */
  record_key: string | null;
}

export interface TenantKvTable {
  tenant_id: number;
  key: string;
  value: string;
}

/** A tenant's key/value usage, kept by every write and delete (the quota check reads this row). */
export interface TenantKvUsageTable {
  tenant_id: number;
  key_count: number;
  /** UTF-8 bytes of keys and values together. */
  byte_count: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: string | null;
  source_address: string | null;
  tenant_id: number | null;
  /** Set by the write journal only (idempotent replay); unique. */
  record_key: string | null;
}

export interface SipBansTable {
  /** An IPv4 address or an IPv6 /64 written as `2001:db8:1:2::/64`. */
  address: string;
  /** Why: `source-limit` or `account-limit`. */
  reason: string;
  /** Epoch ms the ban ends. */
  until: number;
  /** How many bans in a row this source has had (the length doubles with each). */
  count: number;
  banned_at: number;
}

export interface WebSessionsTable {
  id: Generated<number>;
  user_id: number;
  token_hash: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  source_address: string | null;
  user_agent: string | null;
}

export interface UserRecoveryCodesTable {
  id: Generated<number>;
  user_id: number;
  code_hash: string;
  used_at: number | null;
}

export interface TenantSecretsTable {
  tenant_id: number;
  name: string;
  value_enc: string;
  created_at: number;
  updated_at: number;
}

export interface ContactsTable {
  id: Generated<number>;
  tenant_id: number;
  name: string;
  company: string | null;
  /** JSON array of the numbers as typed. */
  numbers: string;
  note: string | null;
  /** Lower-cased name, company and numbers (as typed and normalised) for `q`. */
  search: string;
  created_at: number;
  updated_at: number;
}

export interface DatabaseSchema {
  tenants: TenantsTable;
  tenant_aliases: TenantAliasesTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  sip_accounts: SipAccountsTable;
  dialplans: DialplansTable;
  providers: ProvidersTable;
  provider_registrations: ProviderRegistrationsTable;
  tenant_call_policies: TenantCallPoliciesTable;
  dids: DidsTable;
  registrar_bindings: RegistrarBindingsTable;
  cdrs: CdrsTable;
  tenant_kv: TenantKvTable;
  tenant_kv_usage: TenantKvUsageTable;
  audit_log: AuditLogTable;
  sip_bans: SipBansTable;
  web_sessions: WebSessionsTable;
  user_recovery_codes: UserRecoveryCodesTable;
  tenant_secrets: TenantSecretsTable;
  contacts: ContactsTable;
}
