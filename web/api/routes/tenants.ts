import { DEFAULT_DIALPLAN_NAME, DEFAULT_DIALPLAN_SOURCE } from '../../../sandbox/default-dialplan.ts';
import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idFrom, keyCursor, listOf, page } from '../schemas/common.ts';
import { aliasBody, tenantCreateBody, tenantPatchBody, tenantSchema, tenantsQuery } from '../schemas/tenants.ts';

/** A tenant domain as the list gives it out as a cursor (domains are stored lower-case). */
const DOMAIN_CURSOR = /^[a-z0-9.-]{1,253}$/;

const one = z.object({ tenant: tenantSchema });

/** Tenants and their domains (operators only). */
export function mountTenantRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'tenants', roles: ['operator'] } as const;
  const require = async (id: string | undefined) => {
    const t = await d.db.tenants.get(idFrom(id, 'tenant'));
    if (!t) throw new ApiError(404, 'tenant not found');
    return t;
  };

  api.define({ ...base, method: 'get', path: '/tenants', summary: 'Tenants in domain order; `q`: the domain or name contains it', query: tenantsQuery, response: listOf(tenantSchema) }, async ({ query }) => {
    const afterDomain = keyCursor(query.cursor, DOMAIN_CURSOR);
    const rows = await d.db.tenants.listPage({ limit: query.limit + 1, ...(afterDomain !== undefined && { afterDomain }), ...(query.q !== undefined && { q: query.q }) });
    return page(rows, query.limit, (t) => t.domain, (t) => t);
  });

  api.define({ ...base, method: 'post', path: '/tenants', summary: 'Create a tenant (with its `default` dialplan: dials its accounts by user name)', body: tenantCreateBody, response: one, status: 201 }, async ({ auth, body, audit }) => {
    const plan = await d.compileDialplan(DEFAULT_DIALPLAN_SOURCE, 'ts');
    const { js, sourceMap } = plan;
    if (!plan.ok || js === undefined || sourceMap === undefined) throw new Error(`the default dialplan does not compile: ${JSON.stringify(plan.errors)}`);
    const tenant = await d.db.transaction(async (tx) => {
      const t = await tx.tenants.add({ domain: body.domain, ...(body.name !== undefined && { name: body.name }) });
      await audit(tx, { action: 'tenant.add', target: `tenant:${t.domain}`, tenantId: t.id });
      await tx.dialplans.save({ tenantId: t.id, name: DEFAULT_DIALPLAN_NAME, language: 'ts', source: DEFAULT_DIALPLAN_SOURCE, compiledJs: js, sourceMap, author: auth.user.email, message: 'made with the tenant' });
      return t;
    });
    d.changed({ tenantId: tenant.id, kind: 'tenant' });
    return { tenant };
  });

  api.define({ ...base, method: 'get', path: '/tenants/:id', summary: 'One tenant', response: one }, async ({ params }) => ({ tenant: await require(params['id']) }));

  api.define({ ...base, method: 'patch', path: '/tenants/:id', summary: 'Rename a tenant, require 2FA of its users, set its CDR and audit retention (days), or its park slots and recall time (null: the switch default)', body: tenantPatchBody, response: one }, async ({ params, body, audit }) => {
    const t = await require(params['id']);
    const tenant = await d.db.transaction(async (tx) => {
      const patch = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as typeof body;
      const updated = await tx.tenants.update(t.id, patch as Parameters<typeof tx.tenants.update>[1]);
      await audit(tx, { action: 'tenant.update', target: `tenant:${t.domain}`, details: body, tenantId: t.id });
      return updated!;
    });
    // The switch keeps each tenant's park settings in memory: it re-reads them now.
    if (body.parkSlots !== undefined || body.parkRecallSeconds !== undefined) d.changed({ tenantId: t.id, kind: 'tenant' });
    return { tenant };
  });

  api.define({ ...base, method: 'delete', path: '/tenants/:id', summary: 'Delete a tenant and everything it has', status: 204 }, async ({ params, audit }) => {
    const t = await require(params['id']);
    await d.db.transaction(async (tx) => {
      await tx.tenants.remove(t.id);
      await audit(tx, { action: 'tenant.remove', target: `tenant:${t.domain}`, tenantId: null });
    });
    d.changed({ tenantId: t.id, kind: 'tenant' });
    return undefined;
  });

  api.define({ ...base, method: 'post', path: '/tenants/:id/aliases', summary: 'Add a domain alias', body: aliasBody, response: one, status: 201 }, async ({ params, body, audit }) => {
    const t = await require(params['id']);
    await d.db.transaction(async (tx) => {
      await tx.tenants.addAlias(t.id, body.domain);
      await audit(tx, { action: 'tenant.alias.add', target: `tenant:${t.domain}`, details: { alias: body.domain.toLowerCase() }, tenantId: t.id });
    });
    d.changed({ tenantId: t.id, kind: 'tenant' });
    return { tenant: (await d.db.tenants.get(t.id))! };
  });

  api.define({ ...base, method: 'delete', path: '/tenants/:id/aliases/:domain', summary: 'Remove a domain alias', status: 204 }, async ({ params, audit }) => {
    const t = await require(params['id']);
    await d.db.transaction(async (tx) => {
      if (!(await tx.tenants.removeAliasOf(t.id, params['domain']!))) throw new ApiError(404, 'alias not found');
      await audit(tx, { action: 'tenant.alias.remove', target: `tenant:${t.domain}`, details: { alias: params['domain'] }, tenantId: t.id });
    });
    d.changed({ tenantId: t.id, kind: 'tenant' });
    return undefined;
  });
}
