import type { Router } from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import type { WebUser } from '../../../db/index.ts';
import type { CallControl, ControlResult } from '../../../server/calls/index.ts';
import { ApiError } from '../api-error.ts';
import type { ApiDeps, ApiState } from '../create-api-app.ts';
import { parseInput } from '../create-api-app.ts';
import { readJsonBody } from '../json-body.ts';
import { requireUser } from '../require-user.ts';

const partySchema = z.object({ party: z.enum(['caller', 'callee']) });
const transferSchema = z.object({
  party: z.enum(['caller', 'callee']),
  /** An extension of the tenant (`1003`) or a sip: URI. */
  destination: z.string().min(1).max(255).regex(/^[^\s<>]+$/, 'must be an extension or a sip: URI without spaces or angle brackets'),
});

const parkSchema = z.object({
  party: z.enum(['caller', 'callee']),
  /** A slot number of the tenant (PATCHBAY_PARK_SLOTS); omitted: the first free one. */
  slot: z.string().regex(/^[1-9][0-9]{0,5}$/, 'must be a park slot number').optional(),
});
const retrieveSchema = z.object({
  /** An extension (account) of the tenant. */
  destination: z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'must be an extension of the tenant'),
});

const consultSchema = z.object({
  /** The party that consults (the switchboard's own phone); the other one waits on hold. */
  party: z.enum(['caller', 'callee']),
  destination: z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'must be an extension of the tenant'),
});
const extensionField = z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'must be an extension of the tenant');
const pickupSchema = z.object({
  callId: z.string().min(1).max(64).optional(),
  extension: extensionField.optional(),
  destination: extensionField,
}).refine((v) => (v.callId === undefined) !== (v.extension === undefined), { message: 'give callId or extension (one of them)', path: ['callId'] });

/**
 * Live call control, `/api/v1/calls` (bearer token; the token owner's tenant only — the API
 * issue brings roles). Another tenant's call id answers 404 like an unknown one.
 */
export function mountCallRoutes(router: Router<ApiState>, deps: ApiDeps): void {
  mountParkingRoutes(router, deps);
  const scope = async (ctx: Koa.ParameterizedContext<ApiState>): Promise<{ calls: CallControl; tenantId: number; by: string }> => {
    const user = await requireUser(ctx, deps.db);
    if (!deps.calls) throw new ApiError(503, 'call control is not running');
    return { calls: deps.calls, tenantId: tenantOf(user), by: `api:${user.email}` };
  };
  const answer = (ctx: Koa.ParameterizedContext<ApiState>, r: ControlResult, callId: string): void => {
    if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
    ctx.body = { ok: true, call: deps.calls?.get(tenantOf(ctx.state.user!), callId) ?? null };
  };

  router.get('/calls', async (ctx) => {
    const { calls, tenantId } = await scope(ctx);
    ctx.body = { calls: calls.list(tenantId) };
  });

  router.get('/calls/:id', async (ctx) => {
    const { calls, tenantId } = await scope(ctx);
    const call = calls.get(tenantId, ctx.params['id']!);
    if (!call) throw new ApiError(404, 'No such call');
    ctx.body = { call };
  });

  router.post('/calls/:id/hangup', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const id = ctx.params['id']!;
    const r = calls.hangup(tenantId, id, by);
    if (!r.ok) throw new ApiError(r.status, r.reason);
    ctx.body = { ok: true };
  });

  router.post('/calls/:id/hold', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const { party } = parseInput(partySchema, await readJsonBody(ctx));
    answer(ctx, await calls.hold(tenantId, ctx.params['id']!, party, by), ctx.params['id']!);
  });

  router.post('/calls/:id/unhold', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    answer(ctx, await calls.unhold(tenantId, ctx.params['id']!, by), ctx.params['id']!);
  });

  router.post('/calls/:id/transfer', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const { party, destination } = parseInput(transferSchema, await readJsonBody(ctx));
    answer(ctx, await calls.transfer(tenantId, ctx.params['id']!, party, destination, by), ctx.params['id']!);
  });
}

/** Park slots: `GET /parking`, `POST /parking/:slot/retrieve`, `POST /calls/:id/park` (same auth and tenant scope as the call routes). */
export function mountParkingRoutes(router: Router<ApiState>, deps: ApiDeps): void {
  const scope = async (ctx: Koa.ParameterizedContext<ApiState>): Promise<{ calls: CallControl; tenantId: number; by: string }> => {
    const user = await requireUser(ctx, deps.db);
    if (!deps.calls) throw new ApiError(503, 'call control is not running');
    return { calls: deps.calls, tenantId: tenantOf(user), by: `api:${user.email}` };
  };

  router.post('/calls/pickup', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const { callId, extension, destination } = parseInput(pickupSchema, await readJsonBody(ctx));
    const r = await calls.pickup(tenantId, { callId, extension }, destination, by);
    if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
    ctx.body = { ok: true };
  });

  router.post('/calls/:id/consult', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const { party, destination } = parseInput(consultSchema, await readJsonBody(ctx));
    const id = ctx.params['id']!;
    const r = await calls.consult(tenantId, id, party, destination, by);
    if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
    ctx.body = { ok: true, call: calls.get(tenantId, id) ?? null };
  });

  for (const step of ['complete', 'cancel'] as const) {
    router.post(`/calls/:id/consult/${step}`, async (ctx) => {
      const { calls, tenantId, by } = await scope(ctx);
      const id = ctx.params['id']!;
      const r = step === 'complete' ? await calls.completeConsult(tenantId, id, by) : await calls.cancelConsult(tenantId, id, by);
      if (!r.ok) throw new ApiError(r.status, r.reason);
      ctx.body = { ok: true, call: calls.get(tenantId, id) ?? null };
    });
  }

  router.post('/calls/:id/park', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const { party, slot } = parseInput(parkSchema, await readJsonBody(ctx));
    const id = ctx.params['id']!;
    const r = await calls.park(tenantId, id, party, slot, by);
    if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'slot' : undefined);
    ctx.body = { ok: true, slot: r.slot, call: calls.get(tenantId, id) ?? null };
  });

  router.get('/parking', async (ctx) => {
    const { calls, tenantId } = await scope(ctx);
    ctx.body = { items: calls.parking(tenantId), nextCursor: null };
  });

  router.post('/parking/:slot/retrieve', async (ctx) => {
    const { calls, tenantId, by } = await scope(ctx);
    const { destination } = parseInput(retrieveSchema, await readJsonBody(ctx));
    const r = await calls.retrieve(tenantId, ctx.params['slot']!, destination, by);
    if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
    ctx.body = { ok: true };
  });
}

function tenantOf(user: WebUser): number {
  // Operators (no tenant) get tenant-wide views with the API issue's roles; until then, no calls.
  if (user.tenantId === null || user.tenantId === undefined) throw new ApiError(403, 'this user belongs to no tenant');
  return user.tenantId;
}
