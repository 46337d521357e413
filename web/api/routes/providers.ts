import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idFrom, listOf } from '../schemas/common.ts';
import { providerCreateBody, providerPatchBody, providerSchema } from '../schemas/misc.ts';
import type { Provider, ProviderRegistration } from '../../../db/index.ts';

const one = z.object({ provider: providerSchema });
const show = ({ tenantId: _t, ...p }: Provider) => p;
const registrationOf = (r: ProviderRegistration | undefined) => (r ? { state: r.state, expiresAt: r.expiresAt, lastError: r.lastError, updatedAt: r.updatedAt } : null);

/** Outbound trunks of a tenant, as the CLI manages them; the password is write-only. */
export function mountProviderRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'providers', roles: ['operator', 'admin'], tenantScoped: true } as const;
  const require = async (tenantId: number, id: string | undefined): Promise<Provider> => {
    const p = await d.db.providers.get(idFrom(id, 'provider'));
    if (!p || p.tenantId !== tenantId) throw new ApiError(404, 'provider not found');
    return p;
  };

  api.define({ ...base, method: 'get', path: '/providers', summary: 'Providers (trunks) with their registration state', response: listOf(providerSchema) }, async ({ tenantId }) => {
    const states = new Map((await d.db.providerRegistrations.list()).map((r) => [r.providerId, r]));
    return { items: (await d.db.providers.list(tenantId)).map((p) => ({ ...show(p), registration: registrationOf(states.get(p.id)) })), nextCursor: null };
  });

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

  api.define({ ...base, method: 'get', path: '/providers/:id', summary: 'One provider with its registration state', response: one }, async ({ tenantId, params }) => {
    const p = await require(tenantId, params['id']);
    return { provider: { ...show(p), registration: registrationOf(await d.db.providerRegistrations.get(p.id)) } };
  });

  api.define({ ...base, method: 'patch', path: '/providers/:id', summary: 'Change a provider (password write-only: absent keeps it, null removes it)', body: providerPatchBody, response: one }, async ({ tenantId, params, body, audit }) => {
    const p = await require(tenantId, params['id']);
    const provider = await d.db.transaction(async (tx) => {
      const patch = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as typeof body;
      const updated = await tx.providers.update(p.id, patch);
      const { password, ...shown } = patch;
      await audit(tx, { action: 'provider.update', target: `provider:${p.name}`, details: { ...shown, ...(password !== undefined && { password: password === null ? '(removed)' : '(changed)' }) } });
      return updated;
    });
    d.changed({ tenantId, kind: 'provider', name: provider.name });
    return { provider: { ...show(provider), registration: registrationOf(await d.db.providerRegistrations.get(provider.id)) } };
  });

  api.define({ ...base, method: 'delete', path: '/providers/:id', summary: 'Remove a provider', status: 204 }, async ({ tenantId, params, audit }) => {
    const p = await require(tenantId, params['id']);
    await d.db.transaction(async (tx) => {
      await tx.providers.remove(p.id);
      await audit(tx, { action: 'provider.remove', target: `provider:${p.name}` });
    });
    d.changed({ tenantId, kind: 'provider', name: p.name });
    return undefined;
  });
}
