import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { buildOpenApi } from '../openapi.ts';

export function mountOpenApiRoute(api: ApiRouter, d: RouteDeps, prefix: string): void {
  let doc: Record<string, unknown> | undefined;
  api.define({ method: 'get', path: '/openapi.json', summary: 'This API as OpenAPI 3.1', tag: 'system', roles: 'public' }, async () => {
    doc ??= buildOpenApi(api.routes, { version: d.version, prefix });
    return doc;
  });
}
