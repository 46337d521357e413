import type { Database } from '../../../db/index.ts';
import { ApiError } from './api-error.ts';
import type { AuthInfo } from './auth.ts';

/**
 * The tenant a tenant-scoped route works on: a tenant user's own, always (a `tenant` query
 * parameter cannot widen it); an operator names one with `?tenant=<id>`. An unknown tenant
 * is 404 like any unknown object.
 */
export async function resolveTenant(db: Database, auth: AuthInfo, tenantParam: string | string[] | undefined): Promise<number> {
  if (auth.user.role !== 'operator') {
    if (auth.user.tenantId === null) throw new ApiError(403, 'this user belongs to no tenant');
    return auth.user.tenantId;
  }
  const raw = Array.isArray(tenantParam) ? tenantParam[0] : tenantParam;
  if (raw === undefined || raw === '') throw new ApiError(400, 'tenant: operators name the tenant with ?tenant=<id>', 'tenant');
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new ApiError(400, 'tenant: must be a tenant id', 'tenant');
  const tenant = await db.tenants.get(Number(raw));
  if (!tenant) throw new ApiError(404, 'tenant not found');
  return tenant.id;
}
