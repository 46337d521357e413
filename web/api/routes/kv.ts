import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { listOf, listQuery } from '../schemas/common.ts';
import { kvEntrySchema, kvKeyParam, kvPutBody } from '../schemas/misc.ts';

/** The tenant's key/value store, the one dialplans use through sys.DB*, with the same limits. */
export function mountKvRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'kv', roles: ['operator', 'admin'], tenantScoped: true } as const;
  const keyOf = (text: string | undefined): string => {
    const r = kvKeyParam.safeParse(text);
    if (!r.success) throw new ApiError(400, `key: ${r.error.issues[0]?.message ?? 'invalid'}`, 'key');
    return r.data;
  };

  api.define({ ...base, method: 'get', path: '/kv', summary: 'Keys of the store', query: listQuery, response: listOf(z.object({ key: z.string() })) }, async ({ tenantId, query }) => {
    const keys = await d.db.kv.keys(tenantId);
    const rows = query.cursor === undefined ? keys : keys.filter((k) => k > query.cursor!);
    const items = rows.slice(0, query.limit);
    return { items: items.map((key) => ({ key })), nextCursor: rows.length > query.limit ? items[items.length - 1]! : null };
  });

  api.define({ ...base, method: 'get', path: '/kv/:key', summary: 'One value', response: kvEntrySchema }, async ({ tenantId, params }) => {
    const key = keyOf(params['key']);
    const value = await d.db.kv.read(tenantId, key);
    if (value === undefined) throw new ApiError(404, 'key not found');
    return { key, value };
  });

  api.define({ ...base, method: 'put', path: '/kv/:key', summary: 'Write a value', body: kvPutBody, response: kvEntrySchema }, async ({ tenantId, params, body, audit }) => {
    const key = keyOf(params['key']);
    await d.db.transaction(async (tx) => {
      await tx.kv.write(tenantId, key, body.value);
      await audit(tx, { action: 'kv.write', target: `kv:${key}`, details: { length: body.value.length } });
    });
    return { key, value: body.value };
  });

  api.define({ ...base, method: 'delete', path: '/kv/:key', summary: 'Delete a value', status: 204 }, async ({ tenantId, params, audit }) => {
    const key = keyOf(params['key']);
    await d.db.transaction(async (tx) => {
      if (!(await tx.kv.delete(tenantId, key))) throw new ApiError(404, 'key not found');
      await audit(tx, { action: 'kv.delete', target: `kv:${key}` });
    });
    return undefined;
  });
}
