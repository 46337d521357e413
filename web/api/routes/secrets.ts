import { z } from 'zod';
import { SECRET_NAME } from '../../../db/index.ts';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { keyCursor, listOf, page } from '../schemas/common.ts';
import { secretInfoSchema, secretPutBody, secretsQuery } from '../schemas/misc.ts';

/**
 * Tenant secrets: written here, read only by dialplans (`sys.Secret(name)`); no route ever
 * answers a value.
 */
export function mountSecretRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'secrets', roles: ['operator', 'admin'], tenantScoped: true } as const;
  const nameOf = (text: string | undefined): string => {
    if (!SECRET_NAME.test(text ?? '')) throw new ApiError(400, 'name: must be 1-64 characters of A-Z a-z 0-9 _ . -', 'name');
    return text!;
  };

  api.define({ ...base, method: 'get', path: '/secrets', summary: 'Secret names and dates (never values) in name order; `q`: the name contains it', query: secretsQuery, response: listOf(secretInfoSchema) }, async ({ tenantId, query }) => {
    const afterName = keyCursor(query.cursor, SECRET_NAME);
    const rows = await d.db.secrets.listPage({ tenantId, limit: query.limit + 1, ...(afterName !== undefined && { afterName }), ...(query.q !== undefined && { q: query.q }) });
    return page(rows, query.limit, (s) => s.name, (s) => s);
  });

  api.define({ ...base, method: 'put', path: '/secrets/:name', summary: 'Create or replace a secret (write-only)', body: secretPutBody, response: z.object({ secret: secretInfoSchema }) }, async ({ tenantId, params, body, audit }) => {
    const name = nameOf(params['name']);
    await d.db.transaction(async (tx) => {
      const created = await tx.secrets.put(tenantId, name, body.value);
      await audit(tx, { action: created ? 'secret.add' : 'secret.replace', target: `secret:${name}` });
    });
    return { secret: (await d.db.secrets.list(tenantId)).find((s) => s.name === name)! };
  });

  api.define({ ...base, method: 'delete', path: '/secrets/:name', summary: 'Delete a secret', status: 204 }, async ({ tenantId, params, audit }) => {
    const name = nameOf(params['name']);
    await d.db.transaction(async (tx) => {
      if (!(await tx.secrets.delete(tenantId, name))) throw new ApiError(404, 'secret not found');
      await audit(tx, { action: 'secret.remove', target: `secret:${name}` });
    });
    return undefined;
  });
}
