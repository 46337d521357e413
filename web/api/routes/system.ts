import { z } from 'zod';
import type { ApiRouter } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';

const jobSchema = z
  .object({
    name: z.string(),
    schedule: z.string().nullable(),
    running: z.boolean(),
    lastRunAt: z.number().nullable(),
    lastResult: z.record(z.string(), z.unknown()).nullable(),
    lastError: z.string().nullable(),
  })
  .meta({ id: 'Job' });

/** Scheduled jobs (operators): their schedules and last results, and "run it now". */
export function mountSystemRoutes(api: ApiRouter, d: RouteDeps): void {
  const jobs = () => {
    if (!d.jobs) throw new ApiError(503, 'scheduled jobs are not running');
    return d.jobs;
  };
  api.define({ method: 'get', path: '/system/jobs', summary: 'Scheduled jobs: retention purge and SQLite backup', tag: 'system', roles: ['operator'], response: z.object({ items: z.array(jobSchema), nextCursor: z.null() }) }, async () => ({
    items: jobs().list(),
    nextCursor: null,
  }));
  api.define(
    { method: 'post', path: '/system/jobs/:name/run', summary: 'Run a job now and answer its result', tag: 'system', roles: ['operator'], response: z.object({ result: z.record(z.string(), z.unknown()) }) },
    async ({ params, audit }) => {
      const name = params['name'];
      if (name !== 'retention' && name !== 'backup') throw new ApiError(404, 'no such job');
      const result = await jobs().run(name);
      await d.db.transaction((tx) => audit(tx, { action: `job.${name}.run`, target: `job:${name}`, details: result, tenantId: null }));
      return { result };
    },
  );
}
