import { z } from 'zod';
import { WEB_ROLES } from '../../../db/index.ts';
import { listQuery, password8, textFilter } from './common.ts';

export const tenantSchema = z
  .object({
    id: z.number().int(),
    domain: z.string(),
    name: z.string(),
    aliases: z.array(z.string()),
    createdAt: z.number(),
    require2fa: z.boolean(),
    cdrRetentionDays: z.number().int(),
    auditRetentionDays: z.number().int(),
    /** `first-last`; null: the switch's PATCHBAY_PARK_SLOTS. */
    parkSlots: z.string().nullable(),
    /** null: the switch's PATCHBAY_PARK_RECALL_SEC. */
    parkRecallSeconds: z.number().int().nullable(),
  })
  .meta({ id: 'Tenant' });
/** `q`: the domain or the name contains it. */
export const tenantsQuery = listQuery.extend({ q: textFilter });
export const tenantCreateBody = z.object({ domain: z.string().min(1).max(253), name: z.string().min(1).max(255).optional() });
export const tenantPatchBody = z
  .object({
    name: z.string().min(1).max(255).optional(),
    require2fa: z.boolean().optional(),
    cdrRetentionDays: z.number().int().min(1).max(36_500).optional(),
    auditRetentionDays: z.number().int().min(1).max(36_500).optional(),
    /** The tenant's park slots `first-last` (at most 100 numbers); null: back to the switch default. */
    parkSlots: z
      .string()
      .regex(/^[1-9][0-9]{0,5}-[1-9][0-9]{0,5}$/, 'expected a slot range first-last, like 70-79')
      .refine((v) => {
        const [first, last] = v.split('-').map(Number) as [number, number];
        return last >= first && last - first < 100;
      }, 'the range must run upwards and hold at most 100 slots')
      .nullable()
      .optional(),
    /** Seconds before a parked call rings its parker again, 0 = never; null: back to the switch default. */
    parkRecallSeconds: z.number().int().min(0).max(86_400).nullable().optional(),
  })
  .strict();
export const aliasBody = z.object({ domain: z.string().min(1).max(253) });

const role = z.enum(WEB_ROLES as [string, ...string[]]);
export const webUserSchema = z
  .object({ id: z.number().int(), email: z.string(), role, tenantId: z.number().int().nullable(), disabled: z.boolean(), createdAt: z.number(), totpEnabled: z.boolean() })
  .meta({ id: 'WebUser' });
export const userCreateBody = z.object({
  email: z.string().min(3).max(255),
  password: password8,
  role,
  /** Operators only: the tenant of the new user (admins create users in their own). */
  tenantId: z.number().int().positive().nullable().optional(),
});
export const userPatchBody = z.object({ role: role.optional(), disabled: z.boolean().optional(), password: password8.optional() }).strict();
