export { openDatabase, dialectOf } from './open-database.ts';
export type { Database, OpenDatabaseOptions, Repositories } from './open-database.ts';
export type { SqlDialectName } from './migrations.ts';
export { DuplicateError, NotFoundError, ValidationError } from './errors.ts';
export { Ha1UnreadableError } from './repositories/ha1-sealing.ts';
export { digestHa1, encryptSecret, decryptSecret } from './secrets.ts';
export type { DigestAlgorithm } from './secrets.ts';
export type { Tenant } from './repositories/tenants-repository.ts';
export type { SipAccount, NewSipAccount, SipAccountSettings, AccountKeepaliveMethod } from './repositories/accounts-repository.ts';
export { KEEPALIVE_METHODS, isCidr } from './repositories/accounts-repository.ts';
export type { DialplanLanguage, DialplanVersion, DialplanSummary, NewDialplanVersion } from './repositories/dialplans-repository.ts';
export { WEB_ROLES } from './repositories/users-repository.ts';
export type { WebRole, WebUser, NewWebUser } from './repositories/users-repository.ts';
export type { ApiTokenInfo } from './repositories/tokens-repository.ts';
export type {
  Provider,
  NewProvider,
  ProviderRegistration,
  ProviderRegistrationState,
  ProviderSettings,
  ProviderNumberFormat,
  ProviderUpdate,
} from './repositories/providers-repository.ts';
export { PROVIDER_NUMBER_FORMATS } from './repositories/providers-repository.ts';
export { isProtectedProviderHeader } from './protected-provider-headers.ts';
export { DEFAULT_DENIED_PREFIXES, DEFAULT_CALL_POLICY, type CallPolicy } from './repositories/call-policies-repository.ts';
export type { StoredBinding } from './repositories/bindings-repository.ts';
export type { Cdr, CdrLeg, StoredCdr, CallDirection, HangupSide } from './repositories/cdrs-repository.ts';
export { KV_DEFAULT_QUOTA, KV_MAX_KEY_LENGTH, KV_MAX_VALUE_LENGTH, KvQuotaError } from './repositories/kv-repository.ts';
export type { KvQuota } from './repositories/kv-repository.ts';
export type { AuditEntry, StoredAuditEntry } from './repositories/audit-repository.ts';
export { sqliteDriver, type SqliteDriver } from './sqlite-driver.ts';
export type { StoredBan } from './repositories/sip-bans-repository.ts';
export type { WebSessionInfo } from './repositories/sessions-repository.ts';
export type { TenantSecretInfo } from './repositories/tenant-secrets-repository.ts';
export { SECRET_NAME, SECRET_MAX_VALUE_LENGTH } from './repositories/tenant-secrets-repository.ts';
export { API_TOKEN_SCOPES } from './repositories/tokens-repository.ts';
export type { ApiTokenScope } from './repositories/tokens-repository.ts';
export type { WebUserPatch } from './repositories/users-repository.ts';
export type { CdrFilter } from './repositories/cdrs-repository.ts';
export type { AuditFilter } from './repositories/audit-repository.ts';
export { webPasswordNeedsRehash, hashWebPassword, WEB_PASSWORD_SCRYPT } from './secrets.ts';
export { normalizeDidNumber, type Did, type NewDid } from './repositories/dids-repository.ts';
export {
  normalizeContactNumber, checkContactInput, CONTACT_NAME_MAX, CONTACT_COMPANY_MAX, CONTACT_NOTE_MAX, CONTACT_NUMBERS_MAX, CONTACT_NUMBER_MAX, CONTACTS_PER_TENANT_MAX,
  type Contact, type ContactInput, type ContactPageQuery,
} from './repositories/contacts-repository.ts';
export { isDatabaseUnavailable } from './errors.ts';
export { DatabaseHealth, type DatabaseHealthState, type DatabaseHealthOptions } from './database-health.ts';
export { ReadThroughCache, withDeadline, type ReadThroughCacheOptions } from './read-through-cache.ts';
export { WriteJournal, writeJournalSettingsFromEnv, type AccountDndWrite, type JournaledWrite, type ProviderStateWrite, type WriteJournalOptions, type WriteJournalStats } from './write-journal.ts';
