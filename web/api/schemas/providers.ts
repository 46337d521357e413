import { z } from 'zod';
import { PROVIDER_NUMBER_FORMATS } from '../../../db/index.ts';
import { booleanParam, listQuery, textFilter } from './common.ts';

/** `q`: the name contains it; `register`: only providers that do (or do not) register. */
export const providersQuery = listQuery.extend({ q: textFilter, register: booleanParam.optional() });

/** `q`: the number contains it. */
export const didsQuery = listQuery.extend({ q: textFilter });

/** A provider's call settings (db ProviderSettings; the README's Providers section has the defaults). */
export const providerSettingsSchema = z
  .object({
    fromHost: z.string().max(253),
    displayName: z.string().max(64),
    assertIdentity: z.boolean(),
    privacy: z.string().max(64),
    numberFormat: z.enum(PROVIDER_NUMBER_FORMATS),
    countryCode: z.string().max(3),
    nationalPrefix: z.string().max(3),
    internationalPrefix: z.string().max(4),
    pingIntervalSeconds: z.number().int().min(0).max(3600),
    sourceNetworks: z.array(z.string().max(64)).max(100),
    provisionalTimeoutMs: z.number().int().min(0).max(32_000),
  })
  .partial()
  .strict()
  .meta({ id: 'ProviderSettings' });

/** PATCH: a setting given as null is cleared (back to its default). */
export const providerSettingsPatchSchema = z
  .object(Object.fromEntries(Object.entries(providerSettingsSchema.shape).map(([k, v]) => [k, (v as z.ZodOptional<z.ZodType>).unwrap().nullable().optional()])) as {
    [K in keyof typeof providerSettingsSchema.shape]: z.ZodOptional<z.ZodNullable<ReturnType<(typeof providerSettingsSchema.shape)[K]['unwrap']>>>;
  })
  .strict();

export const providerRegistrationSchema = z
  .object({
    state: z.enum(['unregistered', 'registering', 'registered', 'failed', 'needs-attention']),
    expiresAt: z.number().nullable(),
    lastError: z.string().nullable(),
    updatedAt: z.number(),
  })
  .meta({ id: 'ProviderRegistration' });

/** Every field optional; null clears a text field; the password is write-only (null removes it). */
export const providerPatchBody = z
  .object({
    serverUri: z.string().regex(/^sips?:[^\s]+$/i, 'must be a sip: or sips: URI').max(512),
    outboundProxy: z.string().max(512).nullable(),
    username: z.string().max(255).nullable(),
    authUser: z.string().max(255).nullable(),
    password: z.string().min(1).max(255).nullable(),
    register: z.boolean(),
    registerExpiry: z.number().int().min(30).max(86_400),
    fromUser: z.string().max(255).nullable(),
    customHeaders: z.record(z.string(), z.string().max(1024)),
    settings: providerSettingsPatchSchema,
  })
  .partial()
  .strict();

export const didSchema = z
  .object({
    id: z.number().int(),
    number: z.string(),
    /** The provider its calls must come from (null: any provider of the tenant). */
    providerId: z.number().int().nullable(),
    provider: z.string().nullable(),
    /** The account whose incoming dialplan (or phones) takes the call. */
    account: z.string().nullable(),
    /** Else this dialplan (else the tenant's `incoming`). */
    dialplan: z.string().nullable(),
    createdAt: z.number(),
  })
  .meta({ id: 'Did' });

const didRouting = {
  providerId: z.number().int().positive().nullable(),
  account: z.string().min(1).max(64).nullable(),
  dialplan: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'a dialplan name').nullable(),
};

export const didCreateBody = z.object({ number: z.string().min(2).max(40), ...didRouting }).partial({ providerId: true, account: true, dialplan: true }).strict();
export const didPatchBody = z.object(didRouting).partial().strict();

const prefixList = z.array(z.string().regex(/^\+[0-9]{1,15}$/, 'an E.164 prefix like +4470')).max(1000);
const limit = z.number().int().min(0).max(1_000_000);

/** The tenant's destination policy for provider legs (db CallPolicy), replaced whole by PUT. */
export const destinationPolicySchema = z
  .object({
    deniedPrefixes: prefixList,
    allowedPrefixes: prefixList,
    allowListOnly: z.boolean(),
    callsPerMinutePerTenant: limit,
    callsPerMinutePerAccount: limit,
    maxConcurrentPerTenant: limit,
    maxConcurrentPerAccount: limit,
    maxDurationSeconds: limit,
  })
  .strict()
  .meta({ id: 'DestinationPolicy' });
