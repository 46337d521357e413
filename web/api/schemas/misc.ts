import { z } from 'zod';
import { KV_MAX_KEY_LENGTH, KV_MAX_VALUE_LENGTH, SECRET_MAX_VALUE_LENGTH } from '../../../db/index.ts';
import { listQuery, textFilter, timeParam } from './common.ts';
import { providerRegistrationSchema, providerSettingsSchema } from './providers.ts';

export const providerSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    serverUri: z.string(),
    outboundProxy: z.string().nullable(),
    username: z.string().nullable(),
    authUser: z.string().nullable(),
    hasPassword: z.boolean(),
    register: z.boolean(),
    registerExpiry: z.number().int(),
    fromUser: z.string().nullable(),
    customHeaders: z.record(z.string(), z.string()),
    createdAt: z.number(),
    settings: providerSettingsSchema.optional(),
    /** The registration agent's last word (null: never registered). */
    registration: providerRegistrationSchema.nullable().optional(),
  })
  .meta({ id: 'Provider' });
export const providerCreateBody = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
  serverUri: z.string().regex(/^sips?:[^\s]+$/i, 'must be a sip: or sips: URI').max(512),
  outboundProxy: z.string().max(512).nullable().optional(),
  username: z.string().max(255).nullable().optional(),
  authUser: z.string().max(255).nullable().optional(),
  /** Write-only: stored encrypted, never answered. */
  password: z.string().min(1).max(255).nullable().optional(),
  register: z.boolean().optional(),
  registerExpiry: z.number().int().min(30).max(86_400).optional(),
  fromUser: z.string().max(255).nullable().optional(),
  customHeaders: z.record(z.string(), z.string().max(1024)).optional(),
  settings: providerSettingsSchema.optional(),
});

export const cdrQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  /** An account user name of the tenant. */
  account: z.string().min(1).max(128).optional(),
  direction: z.enum(['inbound', 'outbound', 'internal']).optional(),
  status: z.string().min(1).max(32).optional(),
  q: z.string().min(1).max(255).optional(),
});
export const cdrExportQuery = cdrQuery.omit({ limit: true, cursor: true }).extend({ format: z.enum(['csv', 'json']).default('json') });
export const cdrSchema = z
  .object({
    id: z.number().int(),
    callId: z.string(),
    caller: z.string(),
    callee: z.string(),
    direction: z.string(),
    dialplan: z.string().nullable(),
    startedAt: z.number(),
    ringingAt: z.number().nullable(),
    answeredAt: z.number().nullable(),
    endedAt: z.number().nullable(),
    durationSec: z.number(),
    hangupSide: z.string().nullable(),
    hangupCause: z.string().nullable(),
    status: z.string(),
    outcome: z.string().nullable(),
    ringSec: z.number().nullable(),
    legs: z.array(z.record(z.string(), z.unknown())),
    dialStrings: z.array(z.string()),
    history: z.array(z.record(z.string(), z.unknown())),
    /** The switchboard's call note when the call ended. */
    note: z.string().nullable().optional(),
  })
  .meta({ id: 'Cdr' });

export const kvKeyParam = z.string().min(1).max(KV_MAX_KEY_LENGTH);
export const kvPutBody = z.object({ value: z.string().max(KV_MAX_VALUE_LENGTH) });
export const kvEntrySchema = z.object({ key: z.string(), value: z.string() }).meta({ id: 'KvEntry' });

export const secretPutBody = z.object({ value: z.string().min(1).max(SECRET_MAX_VALUE_LENGTH) });
/** `q`: the secret's name contains it. */
export const secretsQuery = listQuery.extend({ q: textFilter });
export const secretInfoSchema = z.object({ name: z.string(), createdAt: z.number(), updatedAt: z.number() }).meta({ id: 'TenantSecret' });

export const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  actor: z.string().min(1).max(255).optional(),
  /** Exact action or a prefix ending in `.*`. */
  action: z.string().min(1).max(255).optional(),
  /** Operators: one tenant's entries only. */
  tenantId: z.coerce.number().int().positive().optional(),
});
export const auditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.number(),
    actor: z.string(),
    action: z.string(),
    target: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    sourceAddress: z.string().nullable(),
    tenantId: z.number().int().nullable(),
  })
  .meta({ id: 'AuditEntry' });
