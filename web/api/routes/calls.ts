import type { ControlResult } from '../../../server/calls/index.ts';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import {
  callListResponse, consultBody, controlResponse, destinationBody, liveCallSchema, okResponse, parkBody, parkingListResponse, parkResponse, partyBody, pickupBody, placeCallBody, placeCallResponse,
  transferBody,
} from '../schemas/calls.ts';
import { noteBody } from '../schemas/calls.ts';
import { z } from 'zod';

/**
 * Live calls of a tenant and their control. Another tenant's call id answers 404 like an
 * unknown one. Control needs a token's `calls` scope.
 */
export function mountCallRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'calls', roles: ['operator', 'admin', 'receptionist'], tenantScoped: true } as const;
  const control = () => {
    if (!d.calls) throw new ApiError(503, 'call control is not running');
    return d.calls;
  };
  const answer = (r: ControlResult, tenantId: number, callId: string) => {
    if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
    return { ok: true, call: d.calls?.get(tenantId, callId) ?? null };
  };

  api.define({ ...base, method: 'get', path: '/calls', summary: 'Live calls of the tenant', response: callListResponse }, async ({ tenantId }) => {
    const calls = control().list(tenantId);
    // `calls` is the shape this route had before the list envelope; kept for existing clients.
    return { items: calls, nextCursor: null, calls };
  });

  api.define(
    {
      ...base, roles: ['operator', 'admin', 'receptionist', 'member'], method: 'post', path: '/calls', scope: 'calls', status: 201,
      summary: 'Click-to-call: ring the account `from`, then the dial string `to`, and bridge them (a member: from their own accounts)',
      body: placeCallBody, response: placeCallResponse,
    },
    async ({ tenantId, auth, body, audit }) => {
      const account = (await d.db.accounts.listPage({ tenantId, username: body.from, limit: 1 }))[0];
      // Another tenant's account, or for a member someone else's, is simply not found.
      if (!account || account.tenantId !== tenantId || (auth.user.role === 'member' && account.ownerUserId !== auth.user.id)) {
        throw new ApiError(404, 'from: account not found', 'from');
      }
      const tenant = await d.db.tenants.get(tenantId);
      if (!tenant) throw new ApiError(404, 'tenant not found');
      const r = await control().place({ id: tenant.id, domain: tenant.domain }, account.username, body.to);
      if (!r.ok) throw new ApiError(r.status, r.reason, r.field);
      await d.db.transaction((tx) => audit(tx, { action: 'call.place', target: `call:${r.callId}`, details: { from: account.username, to: body.to } }));
      return { ok: true, callId: r.callId, call: d.calls?.get(tenantId, r.callId) ?? null };
    },
  );

  api.define({ ...base, method: 'get', path: '/calls/:id', summary: 'One live call', response: z.object({ call: liveCallSchema }) }, async ({ tenantId, params }) => {
    const call = control().get(tenantId, params['id']!);
    if (!call) throw new ApiError(404, 'No such call');
    return { call };
  });

  api.define({ ...base, method: 'post', path: '/calls/:id/hangup', summary: 'Hang up a live call', scope: 'calls', response: controlResponse }, async ({ tenantId, params, auth, audit }) => {
    const r = control().hangup(tenantId, params['id']!, `api:${auth.user.email}`);
    if (!r.ok) throw new ApiError(r.status, r.reason);
    await d.db.transaction((tx) => audit(tx, { action: 'call.hangup', target: `call:${params['id']}` }));
    return { ok: true };
  });

  api.define({ ...base, method: 'post', path: '/calls/:id/hold', summary: 'Put one party of a bridged call on hold', scope: 'calls', body: partyBody, response: controlResponse }, async ({ tenantId, params, auth, body, audit }) => {
    const r = await control().hold(tenantId, params['id']!, body.party, `api:${auth.user.email}`);
    const out = answer(r, tenantId, params['id']!);
    await d.db.transaction((tx) => audit(tx, { action: 'call.hold', target: `call:${params['id']}`, details: { party: body.party } }));
    return out;
  });

  api.define({ ...base, method: 'post', path: '/calls/:id/unhold', summary: 'Take a held call off hold', scope: 'calls', response: controlResponse }, async ({ tenantId, params, auth, audit }) => {
    const out = answer(await control().unhold(tenantId, params['id']!, `api:${auth.user.email}`), tenantId, params['id']!);
    await d.db.transaction((tx) => audit(tx, { action: 'call.unhold', target: `call:${params['id']}` }));
    return out;
  });

  api.define(
    { ...base, method: 'post', path: '/calls/:id/transfer', summary: 'Blind-transfer a party of a bridged call through the transfer dialplan', scope: 'calls', body: transferBody, response: controlResponse },
    async ({ tenantId, params, auth, body, audit }) => {
      const r = await control().transfer(tenantId, params['id']!, body.party, body.destination, `api:${auth.user.email}`);
      const out = answer(r, tenantId, params['id']!);
      await d.db.transaction((tx) => audit(tx, { action: 'call.transfer', target: `call:${params['id']}`, details: { party: body.party, destination: body.destination } }));
      return out;
    },
  );

  api.define(
    { ...base, method: 'put', path: '/calls/:id/note', summary: 'Write the switchboard note of a live call (empty: remove it); it follows the call through transfers and lands in its CDR', scope: 'calls', body: noteBody, response: controlResponse },
    async ({ tenantId, params, auth, body, audit }) => {
      const r = control().setNote(tenantId, params['id']!, body.note, `api:${auth.user.email}`);
      if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'note' : undefined);
      await d.db.transaction((tx) => audit(tx, { action: 'call.note', target: `call:${params['id']}`, details: { length: body.note.length } }));
      return { ok: true, call: d.calls?.get(tenantId, params['id']!) ?? null };
    },
  );

  api.define(
    { ...base, method: 'post', path: '/calls/pickup', summary: 'Pick up a ringing call (by call id or rung extension) to an extension', scope: 'calls', body: pickupBody, response: okResponse },
    async ({ tenantId, auth, body, audit }) => {
      const r = await control().pickup(tenantId, { callId: body.callId, extension: body.extension }, body.destination, `api:${auth.user.email}`);
      if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
      await d.db.transaction((tx) => audit(tx, { action: 'call.pickup', target: `call:${body.callId ?? body.extension}`, details: { destination: body.destination } }));
      return { ok: true };
    },
  );

  api.define(
    { ...base, method: 'post', path: '/calls/:id/consult', summary: 'Consult: hold the other party and ring a destination for the consulting party', scope: 'calls', body: consultBody, response: controlResponse },
    async ({ tenantId, params, auth, body, audit }) => {
      const out = answer(await control().consult(tenantId, params['id']!, body.party, body.destination, `api:${auth.user.email}`), tenantId, params['id']!);
      await d.db.transaction((tx) => audit(tx, { action: 'call.consult', target: `call:${params['id']}`, details: { party: body.party, destination: body.destination } }));
      return out;
    },
  );

  for (const step of ['complete', 'cancel'] as const) {
    api.define(
      {
        ...base, method: 'post', path: `/calls/:id/consult/${step}`, scope: 'calls', response: controlResponse,
        summary: step === 'complete' ? 'Complete a consult transfer: join the held party and the target' : 'Cancel a consult: hang up the target, rejoin the original parties',
      },
      async ({ tenantId, params, auth, audit }) => {
        const by = `api:${auth.user.email}`;
        const r = step === 'complete' ? await control().completeConsult(tenantId, params['id']!, by) : await control().cancelConsult(tenantId, params['id']!, by);
        if (!r.ok) throw new ApiError(r.status, r.reason);
        await d.db.transaction((tx) => audit(tx, { action: `call.consult.${step}`, target: `call:${params['id']}` }));
        return { ok: true, call: d.calls?.get(tenantId, params['id']!) ?? null };
      },
    );
  }

  api.define(
    { ...base, method: 'post', path: '/calls/:id/park', summary: 'Park a party of a bridged call in a slot (the other party is hung up)', scope: 'calls', body: parkBody, response: parkResponse },
    async ({ tenantId, params, auth, body, audit }) => {
      const r = await control().park(tenantId, params['id']!, body.party, body.slot, `api:${auth.user.email}`);
      if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'slot' : undefined);
      await d.db.transaction((tx) => audit(tx, { action: 'call.park', target: `call:${params['id']}`, details: { party: body.party, slot: r.slot ?? null } }));
      return { ok: true, slot: r.slot, call: d.calls?.get(tenantId, params['id']!) ?? null };
    },
  );

  api.define({ ...base, method: 'get', path: '/parking', summary: 'Parked calls of the tenant', response: parkingListResponse }, async ({ tenantId }) => ({
    items: control().parking(tenantId),
    nextCursor: null,
  }));

  api.define(
    { ...base, method: 'post', path: '/parking/:slot/retrieve', summary: 'Retrieve a parked call to an extension', scope: 'calls', body: destinationBody, response: okResponse },
    async ({ tenantId, params, auth, body, audit }) => {
      const slot = params['slot']!;
      if (!/^[1-9][0-9]{0,5}$/.test(slot)) throw new ApiError(400, 'slot: must be a park slot number', 'slot');
      const r = await control().retrieve(tenantId, slot, body.destination, `api:${auth.user.email}`);
      if (!r.ok) throw new ApiError(r.status, r.reason, r.status === 422 ? 'destination' : undefined);
      await d.db.transaction((tx) => audit(tx, { action: 'call.retrieve', target: `parking:${slot}`, details: { destination: body.destination } }));
      return { ok: true };
    },
  );
}
