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
    /** Epoch ms the held party was put on hold. */
    heldAt: z.number().optional(),
    parkedIn: z.string().optional(),
    history: z.array(z.record(z.string(), z.unknown())),
    /** The tenant phonebook's name for the caller's number, else the caller's SIP display name. */
    callerName: z.string().optional(),
    /** The switchboard's note on the call. */
    note: z.string().optional(),
  })
  .meta({ id: 'LiveCall' });

export const callListResponse = z.object({ items: z.array(liveCallSchema), nextCursor: z.null(), calls: z.array(liveCallSchema) });
export const controlResponse = z.object({ ok: z.literal(true), call: liveCallSchema.nullable().optional() });

const extensionField = z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'must be an extension of the tenant');
export const parkBody = z.object({
  party: z.enum(['caller', 'callee']),
  /** A slot number of the tenant (PATCHBAY_PARK_SLOTS); omitted: the first free one. */
  slot: z.string().regex(/^[1-9][0-9]{0,5}$/, 'must be a park slot number').optional(),
});
/** Who the parked or picked-up party is connected to: an extension (account) of the tenant. */
export const destinationBody = z.object({ destination: extensionField });
export const consultBody = z.object({
  /** The party that consults (the switchboard's own phone); the other one waits on hold. */
  party: z.enum(['caller', 'callee']),
  destination: extensionField,
});
export const pickupBody = z
  .object({ callId: z.string().min(1).max(64).optional(), extension: extensionField.optional(), destination: extensionField })
  .refine((v) => (v.callId === undefined) !== (v.extension === undefined), { message: 'give callId or extension (one of them)', path: ['callId'] });

export const parkedCallSchema = z
  .object({ slot: z.string(), callId: z.string(), parkedAt: z.number(), parkedBy: z.string(), party: z.string() })
  .meta({ id: 'ParkedCall' });
export const parkingListResponse = z.object({ items: z.array(parkedCallSchema), nextCursor: z.null() });
export const parkResponse = z.object({ ok: z.literal(true), slot: z.string().optional(), call: liveCallSchema.nullable().optional() });
export const okResponse = z.object({ ok: z.literal(true) });

/** A switchboard note on a live call (≤ 2000 characters; empty removes it). */
export const noteBody = z.object({ note: z.string().max(2000, 'must be at most 2000 characters') });
/** Click-to-call: `from` is an account (username) of the tenant, `to` a dial string. */
export const placeCallBody = z.object({
  from: z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'an account username'),
  to: z.string().min(1).max(500),
});
export const placeCallResponse = z.object({ ok: z.literal(true), callId: z.string(), call: liveCallSchema.nullable() });
