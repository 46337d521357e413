import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idFrom, keyCursor, listOf, page } from '../schemas/common.ts';
import { providerCreateBody, providerSchema } from '../schemas/misc.ts';
import { destinationPolicySchema, didCreateBody, didPatchBody, didSchema, didsQuery, providerPatchBody, providersQuery } from '../schemas/providers.ts';
import type { Did, Provider, ProviderRegistration, ProviderSettings, ProviderUpdate } from '../../../db/index.ts';

const one = z.object({ provider: providerSchema });
const oneDid = z.object({ did: didSchema });

/** Provider names and DID numbers as the lists give them out as cursors. */
const NAME_CURSOR = /^[A-Za-z0-9_.-]{1,64}$/;
const NUMBER_CURSOR = /^\+?[0-9]{2,20}$/;
const policyResponse = z.object({ policy: destinationPolicySchema });

const showRegistration = (r: ProviderRegistration | undefined) => (r ? { state: r.state, expiresAt: r.expiresAt, lastError: r.lastError, updatedAt: r.updatedAt } : null);
const show = ({ tenantId: _t, ...p }: Provider, registration?: ProviderRegistration) => ({ ...p, registration: showRegistration(registration) });

/**
 * Outbound trunks of a tenant, as the CLI manages them (the password is write-only), with the
 * registration agent's state; the tenant's DIDs and its destination policy (the money guard).
 * Another tenant's provider or DID is 404. Writes reach the running switch at once (config.changed).
 */
export function mountProviderRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'providers', roles: ['operator', 'admin'], tenantScoped: true } as const;
  const require = async (tenantId: number, id: string | undefined): Promise<Provider> => {
    const p = await d.db.providers.get(idFrom(id, 'provider'));
    if (!p || p.tenantId !== tenantId) throw new ApiError(404, 'provider not found');
    return p;
  };
  const withState = async (p: Provider) => show(p, await d.db.providerRegistrations.get(p.id));

  api.define(
    { ...base, method: 'get', path: '/providers', summary: 'Providers (trunks) in name order with their registration state; `q`: the name contains it; `register`: true|false', query: providersQuery, response: listOf(providerSchema) },
    async ({ tenantId, query }) => {
      const afterName = keyCursor(query.cursor, NAME_CURSOR);
      const rows = await d.db.providers.listPage({
        tenantId,
        limit: query.limit + 1,
        ...(afterName !== undefined && { afterName }),
        ...(query.q !== undefined && { q: query.q }),
        ...(query.register !== undefined && { register: query.register }),
      });
      const states = new Map((await d.db.providerRegistrations.list()).map((r) => [r.providerId, r]));
      return page(rows, query.limit, (p) => p.name, (p) => show(p, states.get(p.id)));
    },
  );

  api.define({ ...base, method: 'post', path: '/providers', summary: 'Add a provider', body: providerCreateBody, response: one, status: 201 }, async ({ tenantId, body, audit }) => {
    const provider = await d.db.transaction(async (tx) => {
      const entries = Object.entries(body).filter(([, v]) => v !== undefined);
      const p = await tx.providers.add({ ...(Object.fromEntries(entries) as typeof body), tenantId });
      await audit(tx, { action: 'provider.add', target: `provider:${p.name}`, details: { serverUri: p.serverUri, register: p.register } });
      return p;
    });
    d.changed({ tenantId, kind: 'provider', name: provider.name });
    return { provider: show(provider) };
  });

  api.define({ ...base, method: 'get', path: '/providers/:id', summary: 'One provider with its registration state', response: one }, async ({ tenantId, params }) => ({
    provider: await withState(await require(tenantId, params['id'])),
  }));

  api.define(
    { ...base, method: 'patch', path: '/providers/:id', summary: 'Change a provider (the password is write-only; null clears a field or setting)', body: providerPatchBody, response: one },
    async ({ tenantId, params, body, audit }) => {
      const p = await require(tenantId, params['id']);
      const patch: ProviderUpdate = {};
      for (const [k, v] of Object.entries(body)) if (v !== undefined && k !== 'settings') (patch as Record<string, unknown>)[k] = v;
      if (body.settings) {
        // The repository merges settings: a key present as undefined is cleared.
        patch.settings = Object.fromEntries(Object.entries(body.settings).map(([k, v]) => [k, v ?? undefined])) as ProviderSettings;
      }
      const updated = await d.db.transaction(async (tx) => {
        const next = await tx.providers.update(p.id, patch);
        // Which fields changed, never the password itself.
        await audit(tx, { action: 'provider.update', target: `provider:${p.name}`, details: { fields: Object.keys(body) } });
        return next;
      });
      d.changed({ tenantId, kind: 'provider', name: p.name });
      return { provider: await withState(updated) };
    },
  );

  api.define({ ...base, method: 'delete', path: '/providers/:id', summary: 'Remove a provider', status: 204 }, async ({ tenantId, params, audit }) => {
    const p = await require(tenantId, params['id']);
    await d.db.transaction(async (tx) => {
      await tx.providers.remove(p.id);
      await audit(tx, { action: 'provider.remove', target: `provider:${p.name}` });
    });
    d.changed({ tenantId, kind: 'provider', name: p.name });
    return undefined;
  });

  mountDidRoutes(api, d, require);
  mountPolicyRoutes(api, d);
}

/** Inbound numbers: number → the tenant, optionally through one provider, to an account or a dialplan. */
function mountDidRoutes(api: ApiRouter, d: RouteDeps, requireProvider: (tenantId: number, id: string | undefined) => Promise<Provider>): void {
  const base = { tag: 'dids', roles: ['operator', 'admin'], tenantScoped: true } as const;
  const showDid = async (x: Did) => {
    const provider = x.providerId === null ? null : (await d.db.providers.get(x.providerId))?.name ?? null;
    return { id: x.id, number: x.number, providerId: x.providerId, provider, account: x.accountUsername, dialplan: x.dialplan, createdAt: x.createdAt };
  };
  const requireDid = async (tenantId: number, id: string | undefined): Promise<Did> => {
    const x = await d.db.dids.get(idFrom(id, 'DID'));
    if (!x || x.tenantId !== tenantId) throw new ApiError(404, 'DID not found');
    return x;
  };
  /** A provider, account or dialplan named in the body must be the tenant's own (400 naming the field). */
  const checkRouting = async (tenantId: number, body: { providerId?: number | null; account?: string | null; dialplan?: string | null }) => {
    if (body.providerId != null) {
      await requireProvider(tenantId, String(body.providerId)).catch(() => {
        throw new ApiError(400, 'providerId: no such provider in this tenant', 'providerId');
      });
    }
    if (body.account != null && (await d.db.accounts.listPage({ tenantId, username: body.account, limit: 1 })).length === 0) {
      throw new ApiError(400, 'account: no such account in this tenant', 'account');
    }
    if (body.dialplan != null && !(await d.db.dialplans.getCurrent(tenantId, body.dialplan))) {
      throw new ApiError(400, 'dialplan: no such dialplan in this tenant', 'dialplan');
    }
  };

  api.define({ ...base, method: 'get', path: '/dids', summary: 'Inbound numbers (DIDs) of the tenant in number order; `q`: the number contains it', query: didsQuery, response: listOf(didSchema) }, async ({ tenantId, query }) => {
    const afterNumber = keyCursor(query.cursor, NUMBER_CURSOR);
    const rows = await d.db.dids.listPage({ tenantId, limit: query.limit + 1, ...(afterNumber !== undefined && { afterNumber }), ...(query.q !== undefined && { q: query.q }) });
    const { items, nextCursor } = page(rows, query.limit, (x) => x.number, (x) => x);
    return { items: await Promise.all(items.map(showDid)), nextCursor };
  });

  api.define({ ...base, method: 'post', path: '/dids', summary: 'Add a DID (a number belongs to one tenant only: 409 when taken)', body: didCreateBody, response: oneDid, status: 201 }, async ({ tenantId, body, audit }) => {
    await checkRouting(tenantId, body);
    const did = await d.db.transaction(async (tx) => {
      const x = await tx.dids.add({ tenantId, number: body.number, providerId: body.providerId ?? null, accountUsername: body.account ?? null, dialplan: body.dialplan ?? null });
      await audit(tx, { action: 'did.add', target: `did:${x.number}`, details: { providerId: x.providerId, account: x.accountUsername, dialplan: x.dialplan } });
      return x;
    });
    d.changed({ tenantId, kind: 'did', name: did.number });
    return { did: await showDid(did) };
  });

  api.define({ ...base, method: 'get', path: '/dids/:id', summary: 'One DID', response: oneDid }, async ({ tenantId, params }) => ({ did: await showDid(await requireDid(tenantId, params['id'])) }));

  api.define({ ...base, method: 'patch', path: '/dids/:id', summary: 'Change where a DID routes (provider, account, dialplan; null clears)', body: didPatchBody, response: oneDid }, async ({ tenantId, params, body, audit }) => {
    const x = await requireDid(tenantId, params['id']);
    await checkRouting(tenantId, body);
    const updated = await d.db.transaction(async (tx) => {
      const next = await tx.dids.update(x.id, { providerId: body.providerId, accountUsername: body.account, dialplan: body.dialplan });
      await audit(tx, { action: 'did.update', target: `did:${x.number}`, details: body });
      return next!;
    });
    d.changed({ tenantId, kind: 'did', name: x.number });
    return { did: await showDid(updated) };
  });

  api.define({ ...base, method: 'delete', path: '/dids/:id', summary: 'Remove a DID', status: 204 }, async ({ tenantId, params, audit }) => {
    const x = await requireDid(tenantId, params['id']);
    await d.db.transaction(async (tx) => {
      await tx.dids.removeById(x.id);
      await audit(tx, { action: 'did.remove', target: `did:${x.number}` });
    });
    d.changed({ tenantId, kind: 'did', name: x.number });
    return undefined;
  });
}

/** The tenant's destination policy: read, replaced whole, or reset to the documented defaults. */
function mountPolicyRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'providers', roles: ['operator', 'admin'], tenantScoped: true } as const;

  api.define({ ...base, method: 'get', path: '/destination-policy', summary: 'The destination policy every provider leg passes', response: policyResponse }, async ({ tenantId }) => ({
    policy: await d.db.callPolicies.get(tenantId),
  }));

  api.define(
    { ...base, method: 'put', path: '/destination-policy', summary: 'Replace the destination policy (prefixes, allow-list mode, call caps, maximum duration)', body: destinationPolicySchema, response: policyResponse },
    async ({ tenantId, body, audit }) => {
      const policy = await d.db.transaction(async (tx) => {
        const next = await tx.callPolicies.update(tenantId, body);
        await audit(tx, { action: 'policy.update', target: 'destination-policy', details: body as unknown as Record<string, unknown> });
        return next;
      });
      d.changed({ tenantId, kind: 'policy' });
      return { policy };
    },
  );

  api.define({ ...base, method: 'delete', path: '/destination-policy', summary: 'Reset the destination policy to the defaults', response: policyResponse }, async ({ tenantId, audit }) => {
    await d.db.transaction(async (tx) => {
      await tx.callPolicies.reset(tenantId);
      await audit(tx, { action: 'policy.reset', target: 'destination-policy' });
    });
    d.changed({ tenantId, kind: 'policy' });
    return { policy: await d.db.callPolicies.get(tenantId) };
  });
}
