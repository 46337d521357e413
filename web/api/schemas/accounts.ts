import { z } from 'zod';
import { isCidr, KEEPALIVE_METHODS } from '../../../db/index.ts';
import { password8 } from './common.ts';

const dialplanName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
const oneLine = (max: number) => z.string().max(max).regex(/^[^\r\n\0]*$/, 'must be on one line');

/** Every setting the CLI's `account add/set` takes. */
export const accountSettings = z.object({
  displayName: oneLine(255).nullable().optional(),
  outDialplan: dialplanName.nullable().optional(),
  inDialplan: dialplanName.nullable().optional(),
  incomingOnly: z.boolean().optional(),
  disabled: z.boolean().optional(),
  natKeepalive: z.boolean().optional(),
  keepaliveMethod: z.enum(KEEPALIVE_METHODS as [string, ...string[]]).optional(),
  allowedCidrs: z.array(z.string().refine(isCidr, 'must be an IPv4 or IPv6 CIDR')).max(100).optional(),
  trustUdpSource: z.boolean().optional(),
  callerId: oneLine(255).nullable().optional(),
  maxCalls: z.number().int().min(0).max(10_000).nullable().optional(),
  /** The member who owns this account (a web user of the same tenant). */
  ownerUserId: z.number().int().positive().nullable().optional(),
});

export const accountCreateBody = accountSettings.extend({
  username: z.string().regex(/^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,128}$/, 'not a valid SIP user name'),
  password: password8,
});
export const accountPatchBody = accountSettings.extend({ password: password8.optional() }).strict();

/** What a member may change on their own account; everything else is the admin's. */
export const MEMBER_ACCOUNT_FIELDS: ReadonlySet<string> = new Set(['password', 'displayName', 'natKeepalive', 'keepaliveMethod']);

export const accountSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    domain: z.string(),
    displayName: z.string().nullable(),
    outDialplan: z.string().nullable(),
    inDialplan: z.string().nullable(),
    incomingOnly: z.boolean(),
    disabled: z.boolean(),
    natKeepalive: z.boolean(),
    keepaliveMethod: z.string(),
    allowedCidrs: z.array(z.string()),
    trustUdpSource: z.boolean(),
    callerId: z.string().nullable(),
    maxCalls: z.number().int().nullable(),
    ownerUserId: z.number().int().nullable(),
    dnd: z.boolean(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .meta({ id: 'SipAccount' });

export const bindingSchema = z
  .object({ id: z.string(), contact: z.string(), sourceAddress: z.string(), transport: z.string(), userAgent: z.string().nullable(), expiresAt: z.number() })
  .meta({ id: 'Binding' });

export const accountsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
  username: z.string().min(1).max(128).optional(),
});

export const accountDndBody = z.object({ dnd: z.boolean() }).strict();
export const accountDndSchema = z.object({ accountId: z.number().int(), user: z.string(), dnd: z.boolean() }).meta({ id: 'AccountDnd' });
