import { z } from 'zod';

export const partyBody = z.object({ party: z.enum(['caller', 'callee']) });
export const transferBody = z.object({
  party: z.enum(['caller', 'callee']),
  /** An extension of the tenant (`1003`) or a sip: URI. */
  destination: z.string().min(1).max(255).regex(/^[^\s<>]+$/, 'must be an extension or a sip: URI without spaces or angle brackets'),
});

const partySchema = z.object({ uri: z.string(), displayName: z.string().optional(), account: z.string().optional() });
export const liveCallSchema = z
  .object({
    id: z.string(),
    direction: z.string(),
    state: z.string(),
    caller: partySchema,
    callee: partySchema,
    createdAt: z.number(),
    answeredAt: z.number().optional(),
    held: z.enum(['caller', 'callee']).optional(),
    history: z.array(z.record(z.string(), z.unknown())),
  })
  .meta({ id: 'LiveCall' });

export const callListResponse = z.object({ items: z.array(liveCallSchema), nextCursor: z.null(), calls: z.array(liveCallSchema) });
export const controlResponse = z.object({ ok: z.literal(true), call: liveCallSchema.nullable().optional() });
