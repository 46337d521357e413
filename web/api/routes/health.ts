import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';

const healthSchema = z.object({ status: z.enum(['ok', 'degraded']), version: z.string(), uptimeSec: z.number().int(), db: z.string() });

export function mountHealthRoutes(api: ApiRouter, d: RouteDeps): void {
  api.define({ method: 'get', path: '/health', summary: 'Liveness: version, uptime and database state', tag: 'system', roles: 'public', response: healthSchema }, async ({ ctx }) => {
    let dbOk = true;
    try {
      await d.db.ping();
    } catch {
      dbOk = false;
    }
    ctx.status = dbOk ? 200 : 503;
    ctx.body = { status: dbOk ? 'ok' : 'degraded', version: d.version, uptimeSec: Math.floor((Date.now() - d.startedAt) / 1000), db: d.db.dialect };
    return undefined;
  });
}
