import { Readable } from 'node:stream';
import { z } from 'zod';
import type { CdrFilter, StoredCdr } from '../../../db/index.ts';
import type { ApiRouter, RouteInput } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idCursor, idFrom, listOf, page } from '../schemas/common.ts';
import { cdrExportQuery, cdrQuery, cdrSchema } from '../schemas/misc.ts';

const show = ({ tenantId: _t, ...c }: StoredCdr) => c;

const CSV_COLUMNS = ['id', 'callId', 'startedAt', 'answeredAt', 'endedAt', 'durationSec', 'ringSec', 'direction', 'caller', 'callee', 'status', 'outcome', 'hangupSide', 'hangupCause', 'dialplan', 'note'] as const;

/**
 * One CSV field. Caller and callee come from SIP headers a stranger writes, so a leading
 * `= + - @` (a spreadsheet formula) is defused with a quote (OWASP CSV injection).
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value !== 'number' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CDRs of a tenant: admins and receptionists see all; a member the calls of their own accounts. */
export function mountCdrRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'cdrs', roles: ['operator', 'admin', 'receptionist', 'member'], tenantScoped: true } as const;

  const filterOf = async (input: RouteInput<unknown, unknown>, q: z.output<typeof cdrExportQuery> | z.output<typeof cdrQuery>): Promise<CdrFilter> => {
    const f: CdrFilter = { tenantId: input.tenantId };
    if (q.from !== undefined) f.from = q.from;
    if (q.to !== undefined) f.to = q.to;
    if (q.direction !== undefined) f.direction = q.direction;
    if (q.status !== undefined) f.status = q.status;
    if (q.q !== undefined) f.q = q.q;
    if (input.auth.user.role === 'member') {
      const own = (await d.db.accounts.listPage({ tenantId: input.tenantId, ownerUserId: input.auth.user.id, limit: 1000 })).map((a) => a.username);
      f.accounts = q.account === undefined ? own : own.filter((a) => a === q.account);
    } else if (q.account !== undefined) {
      f.accounts = [q.account];
    }
    return f;
  };

  api.define({ ...base, method: 'get', path: '/cdrs', summary: 'Call records, newest first, filtered', query: cdrQuery, response: listOf(cdrSchema) }, async (input) => {
    const filter = await filterOf(input, input.query);
    const beforeId = idCursor(input.query.cursor);
    if (beforeId !== undefined) filter.beforeId = beforeId;
    const rows = await d.db.cdrs.search(filter, input.query.limit + 1);
    return page(rows, input.query.limit, (c) => String(c.id), show);
  });

  api.define(
    {
      ...base,
      method: 'get',
      path: '/cdrs/export',
      summary: 'Every matching call record as CSV or JSON, streamed',
      query: cdrExportQuery,
      produces: ['text/csv', 'application/json'],
    },
    async (input) => {
      const filter = await filterOf(input, input.query);
      const rows = d.db.cdrs.iterate(filter);
      const { ctx } = input;
      const stamp = new Date().toISOString().slice(0, 10);
      if (input.query.format === 'csv') {
        ctx.type = 'text/csv; charset=utf-8';
        ctx.attachment(`cdrs-${stamp}.csv`);
        ctx.body = Readable.from(
          (async function* () {
            yield CSV_COLUMNS.join(',') + '\r\n';
            for await (const r of rows) yield CSV_COLUMNS.map((c) => csvField(r[c])).join(',') + '\r\n';
          })(),
        );
      } else {
        ctx.type = 'application/json; charset=utf-8';
        ctx.attachment(`cdrs-${stamp}.json`);
        ctx.body = Readable.from(
          (async function* () {
            yield '[';
            let first = true;
            for await (const r of rows) {
              yield (first ? '\n' : ',\n') + JSON.stringify(show(r));
              first = false;
            }
            yield '\n]\n';
          })(),
        );
      }
      return undefined;
    },
  );

  api.define({ ...base, method: 'get', path: '/cdrs/:id', summary: 'One call record', response: z.object({ cdr: cdrSchema }) }, async (input) => {
    const c = await d.db.cdrs.get(idFrom(input.params['id'], 'cdr'));
    if (!c || c.tenantId !== input.tenantId) throw new ApiError(404, 'cdr not found');
    if (input.auth.user.role === 'member') {
      const f = await filterOf(input, { format: 'json' });
      const mine = (f.accounts ?? []).some((a) => [c.caller, c.callee].some((u) => u.startsWith(`sip:${a}@`) || u.startsWith(`sips:${a}@`)));
      if (!mine) throw new ApiError(404, 'cdr not found');
    }
    return { cdr: show(c) };
  });
}
