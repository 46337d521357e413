import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idFrom, listOf } from '../schemas/common.ts';
import { providerCreateBody, providerSchema } from '../schemas/misc.ts';
import type { Provider } from '../../../db/index.ts';

const one = z.object({ provider: providerSchema });
const show = ({ tenantId: _t, ...p }: Provider) => p;

/** Outbound trunks of a tenant, as the CLI manages them; the password is write-only. */
export function mountProviderRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'providers', roles: ['operator', 'admin'], tenantScoped: true } as const;
  const require = async (tenantId: number, id: string | undefined): Promise<Provider> => {
    const p = await d.db.providers.get(idFrom(id, 'provider'));
    if (!p || p.tenantId !== tenantId) throw new ApiError(404, 'provider not found');
    return p;
  };

  api.define({ ...base, method: 'get', path: '/providers', summary: 'Providers (trunks)', response: listOf(providerSchema) }, async ({ tenantId }) => ({
    items: (await d.db.providers.list(tenantId)).map(show),
    nextCursor: null,
  }));

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

  api.define({ ...base, method: 'get', path: '/providers/:id', summary: 'One provider', response: one }, async ({ tenantId, params }) => ({ provider: show(await require(tenantId, params['id'])) }));

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
