import { z } from 'zod';
import type { WebRole, WebUser } from '../../../db/index.ts';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import type { AuthInfo } from '../middleware/auth.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idCursor, idFrom, listOf, listQuery, page } from '../schemas/common.ts';
import { userCreateBody, userPatchBody, webUserSchema } from '../schemas/tenants.ts';

const one = z.object({ user: webUserSchema });
const usersQuery = listQuery.extend({ tenantId: z.coerce.number().int().positive().optional() });

/** Web users: operators manage everyone, admins the users of their own tenant (never operators). */
export function mountUserRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'users', roles: ['operator', 'admin'] } as const;
  /** A user the caller may manage, else 404 (another tenant's user does not exist for an admin). */
  const manageable = async (auth: AuthInfo, id: string | undefined): Promise<WebUser> => {
    const u = await d.db.users.get(idFrom(id, 'user'));
    if (!u || (auth.user.role !== 'operator' && (u.tenantId !== auth.user.tenantId || u.role === 'operator'))) throw new ApiError(404, 'user not found');
    return u;
  };
  const checkRole = (auth: AuthInfo, role: WebRole) => {
    if (role === 'operator' && auth.user.role !== 'operator') throw new ApiError(403, 'role: only operators create operators', 'role');
  };

  api.define({ ...base, method: 'get', path: '/users', summary: 'Web users (an admin sees their tenant; an operator all, or ?tenantId=)', query: usersQuery, response: listOf(webUserSchema) }, async ({ auth, query }) => {
    const tenantId = auth.user.role === 'operator' ? query.tenantId : auth.user.tenantId!;
    const afterId = idCursor(query.cursor);
    const rows = await d.db.users.listPage({ ...(tenantId !== undefined && { tenantId }), ...(afterId !== undefined && { afterId }), limit: query.limit + 1 });
    return page(rows, query.limit, (u) => String(u.id), (u) => u);
  });

  api.define({ ...base, method: 'post', path: '/users', summary: 'Create a web user', body: userCreateBody, response: one, status: 201 }, async ({ auth, body, audit }) => {
    const role = body.role as WebRole;
    checkRole(auth, role);
    let tenantId: number | null;
    if (auth.user.role === 'operator') {
      tenantId = role === 'operator' ? null : (body.tenantId ?? null);
      if (tenantId !== null && !(await d.db.tenants.get(tenantId))) throw new ApiError(400, 'tenantId: no such tenant', 'tenantId');
    } else {
      if (body.tenantId != null && body.tenantId !== auth.user.tenantId) throw new ApiError(400, 'tenantId: admins create users in their own tenant', 'tenantId');
      tenantId = auth.user.tenantId;
    }
    const user = await d.db.transaction(async (tx) => {
      const u = await tx.users.add({ email: body.email, password: body.password, role, tenantId });
      await audit(tx, { action: 'user.add', target: `user:${u.email}`, details: { role }, tenantId: u.tenantId });
      return u;
    });
    return { user };
  });

  api.define({ ...base, method: 'get', path: '/users/:id', summary: 'One web user', response: one }, async ({ auth, params }) => ({ user: await manageable(auth, params['id']) }));

  api.define({ ...base, method: 'patch', path: '/users/:id', summary: 'Change role, disable, or set a new password (ends their sessions)', body: userPatchBody, response: one }, async ({ auth, params, body, audit }) => {
    const u = await manageable(auth, params['id']);
    if (body.role !== undefined) {
      checkRole(auth, body.role as WebRole);
      if ((body.role === 'operator') !== (u.role === 'operator')) throw new ApiError(400, 'role: operators and tenant users cannot be turned into each other', 'role');
    }
    const user = await d.db.transaction(async (tx) => {
      const updated = await tx.users.update(u.id, { ...(body.role !== undefined && { role: body.role as WebRole }), ...(body.disabled !== undefined && { disabled: body.disabled }) });
      if (body.password !== undefined) await tx.users.setPassword(u.id, body.password);
      if (body.password !== undefined || body.disabled === true) await tx.sessions.revokeAllOfUser(u.id);
      await audit(tx, { action: 'user.update', target: `user:${u.email}`, details: { ...body, ...(body.password !== undefined && { password: '(changed)' }) }, tenantId: u.tenantId });
      return updated!;
    });
    return { user };
  });

  api.define({ ...base, method: 'delete', path: '/users/:id', summary: 'Delete a web user (and their sessions and tokens)', status: 204 }, async ({ auth, params, audit }) => {
    const u = await manageable(auth, params['id']);
    if (u.id === auth.user.id) throw new ApiError(409, 'you cannot delete yourself');
    await d.db.transaction(async (tx) => {
      await tx.users.remove(u.id);
      await audit(tx, { action: 'user.remove', target: `user:${u.email}`, tenantId: u.tenantId });
    });
    return undefined;
  });

  api.define({ ...base, method: 'delete', path: '/users/:id/2fa', summary: 'Reset a user\'s 2FA (lost phone); they enrol again', status: 204 }, async ({ auth, params, audit }) => {
    const u = await manageable(auth, params['id']);
    await d.db.transaction(async (tx) => {
      await tx.users.setTotpSecret(u.id, null, false);
      await tx.users.replaceRecoveryCodes(u.id, []);
      await audit(tx, { action: 'user.2fa.reset', target: `user:${u.email}`, tenantId: u.tenantId });
    });
    return undefined;
  });
}
