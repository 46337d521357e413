import type { AuditFilter } from '../../../db/index.ts';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { idCursor, listOf, page } from '../schemas/common.ts';
import { auditEntrySchema, auditQuery } from '../schemas/misc.ts';

/** The audit log: an admin reads their tenant's, an operator everything (or one tenant's). */
export function mountAuditRoutes(api: ApiRouter, d: RouteDeps): void {
  api.define({ method: 'get', path: '/audit', summary: 'Audit entries, newest first, filtered', tag: 'audit', roles: ['operator', 'admin'], query: auditQuery, response: listOf(auditEntrySchema) }, async ({ auth, query }) => {
    const filter: AuditFilter = { limit: query.limit + 1 };
    const tenantId = auth.user.role === 'operator' ? query.tenantId : auth.user.tenantId!;
    if (tenantId !== undefined) filter.tenantId = tenantId;
    const beforeId = idCursor(query.cursor);
    if (beforeId !== undefined) filter.beforeId = beforeId;
    if (query.from !== undefined) filter.from = query.from;
    if (query.to !== undefined) filter.to = query.to;
    if (query.actor !== undefined) filter.actor = query.actor;
    if (query.action !== undefined) filter.action = query.action;
    return page(await d.db.audit.list(filter), query.limit, (e) => String(e.id), (e) => e);
  });
}
