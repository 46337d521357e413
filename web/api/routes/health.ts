import { z } from 'zod';
import { withDeadline } from '../../../db/index.ts';
import type { ApiRouter } from '../api-router.ts';
import type { ApiHealthComponent, RouteDeps } from '../deps.ts';

const componentSchema = z.object({ status: z.enum(['ok', 'degraded']), detail: z.string().optional(), pending: z.number().int().optional() });
const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  uptimeSec: z.number().int(),
  db: z.string(),
  /** The parts that are degraded now, by name (`database`, `journal`). */
  degraded: z.array(z.string()),
  components: z.record(z.string(), componentSchema),
});

/** A ping that does not answer within this is as good as a failed one (a health check must answer). */
const PING_DEADLINE_MS = 2_000;

export function mountHealthRoutes(api: ApiRouter, d: RouteDeps): void {
  api.define({ method: 'get', path: '/health', summary: 'Liveness: version, uptime, database and write-journal state', tag: 'system', roles: 'public', response: healthSchema }, async ({ ctx }) => {
    let database: ApiHealthComponent = { status: 'ok' };
    try {
      const r = await withDeadline(d.db.ping(), PING_DEADLINE_MS);
      if (typeof r === 'symbol') database = { status: 'degraded', detail: 'database did not answer' };
    } catch {
      database = { status: 'degraded', detail: 'database unreachable' };
    }
    const components: Record<string, ApiHealthComponent> = { ...d.health?.components(), database };
    const degraded = Object.entries(components).filter(([, c]) => c.status === 'degraded').map(([name]) => name);
    ctx.status = degraded.length === 0 ? 200 : 503;
    ctx.body = {
      status: degraded.length === 0 ? 'ok' : 'degraded',
      version: d.version,
      uptimeSec: Math.floor((Date.now() - d.startedAt) / 1000),
      db: d.db.dialect,
      degraded,
      components,
    };
    return undefined;
  });
}
