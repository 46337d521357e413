import { z } from 'zod';
import type { DialplanVersion, Repositories } from '../../../db/index.ts';
import type { ApiRouter, RouteInput } from '../api-router.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { listOf, listQuery } from '../schemas/common.ts';
import { DryRunRequestError } from '../../../server/calls/index.ts';
import { diffQuery, dryRunBody, dryRunReportSchema, dialplanNameParam, dialplanSaveBody, dialplanSchema, dialplanSummarySchema, dialplanVersionSchema, rollbackBody } from '../schemas/dialplans.ts';

const one = z.object({ dialplan: dialplanSchema });

function showDialplan(v: DialplanVersion) {
  return { name: v.name, language: v.language, source: v.source, version: v.version, updatedAt: v.createdAt, author: v.author, message: v.message };
}

/**
 * Dialplans with versions. Admins manage all of a tenant's; a member reads and saves only the
 * dialplans their own accounts use (others are 404) and creates or deletes none.
 */
export function mountDialplanRoutes(api: ApiRouter, d: RouteDeps): void {
  const base = { tag: 'dialplans', roles: ['operator', 'admin', 'member'], tenantScoped: true } as const;

  /** The dialplan names a member may touch; undefined for admins (all). */
  const memberScope = async (input: RouteInput<unknown, unknown>): Promise<Set<string> | undefined> =>
    input.auth.user.role === 'member' ? new Set(await d.db.accounts.dialplansOfOwner(input.tenantId, input.auth.user.id)) : undefined;

  const nameOf = async (input: RouteInput<unknown, unknown>): Promise<string> => {
    const name = input.params['name']!;
    if (!dialplanNameParam.safeParse(name).success) throw new ApiError(404, 'dialplan not found');
    const scope = await memberScope(input);
    if (scope && !scope.has(name)) throw new ApiError(404, 'dialplan not found');
    return name;
  };
  const current = async (tenantId: number, name: string): Promise<DialplanVersion> => {
    const v = await d.db.dialplans.getCurrent(tenantId, name);
    if (!v) throw new ApiError(404, 'dialplan not found');
    return v;
  };

  /** Compiles, then stores a version with its audit row; a compile error is 422 and nothing is stored. */
  const saveVersion = async (input: RouteInput<unknown, unknown>, name: string, language: 'ts' | 'js', source: string, message: string | undefined, action: string) => {
    const compiled = await d.compileDialplan(source, language);
    if (!compiled.ok || compiled.js === undefined || compiled.sourceMap === undefined) {
      throw new ApiError(422, `dialplan ${name} does not compile`, undefined, { errors: compiled.errors ?? [] });
    }
    const saved = await d.db.transaction(async (tx: Repositories) => {
      const v = await tx.dialplans.save({ tenantId: input.tenantId, name, language, source, compiledJs: compiled.js!, sourceMap: compiled.sourceMap!, author: input.auth.user.email, message: message ?? null });
      await input.audit(tx, { action, target: `dialplan:${name}`, details: { version: v.version, ...(message !== undefined && { message }) } });
      return v;
    });
    d.changed({ tenantId: input.tenantId, kind: 'dialplan', name });
    return { dialplan: showDialplan(saved) };
  };

  api.define({ ...base, method: 'get', path: '/dialplans', summary: 'Dialplans (current version of each)', query: listQuery, response: listOf(dialplanSummarySchema) }, async (input) => {
    const scope = await memberScope(input);
    const all = (await d.db.dialplans.list(input.tenantId)).filter((v) => !scope || scope.has(v.name));
    const after = input.query.cursor;
    const rows = after === undefined ? all : all.filter((v) => v.name > after);
    const items = rows.slice(0, input.query.limit);
    return {
      items: items.map((v) => ({ name: v.name, language: v.language, version: v.version, updatedAt: v.createdAt })),
      nextCursor: rows.length > input.query.limit ? items[items.length - 1]!.name : null,
    };
  });

  api.define({ ...base, method: 'get', path: '/dialplans/:name', summary: 'The current version with its source', response: one }, async (input) => ({
    dialplan: showDialplan(await current(input.tenantId, await nameOf(input))),
  }));

  api.define(
    {
      ...base,
      method: 'put',
      path: '/dialplans/:name',
      summary: 'Save a new version (creates the dialplan); 422 with {line, column, message} errors stores nothing',
      body: dialplanSaveBody,
      response: one,
    },
    async (input) => {
      const name = await nameOf(input);
      if (input.auth.user.role === 'member' && !(await d.db.dialplans.getCurrent(input.tenantId, name))) throw new ApiError(404, 'dialplan not found');
      return saveVersion(input, name, input.body.language, input.body.source, input.body.message, 'dialplan.save');
    },
  );

  api.define({ ...base, roles: ['operator', 'admin'], method: 'delete', path: '/dialplans/:name', summary: 'Delete a dialplan and all its versions', status: 204 }, async (input) => {
    const name = await nameOf(input);
    await d.db.transaction(async (tx) => {
      if (!(await tx.dialplans.remove(input.tenantId, name))) throw new ApiError(404, 'dialplan not found');
      await input.audit(tx, { action: 'dialplan.remove', target: `dialplan:${name}` });
    });
    d.changed({ tenantId: input.tenantId, kind: 'dialplan', name });
    return undefined;
  });

  api.define({ ...base, method: 'get', path: '/dialplans/:name/versions', summary: 'Versions, newest first', response: listOf(dialplanVersionSchema) }, async (input) => {
    const name = await nameOf(input);
    const versions = await d.db.dialplans.listVersions(input.tenantId, name);
    if (versions.length === 0) throw new ApiError(404, 'dialplan not found');
    return { items: versions.map((v) => ({ version: v.version, author: v.author, createdAt: v.createdAt, message: v.message })), nextCursor: null };
  });

  const versionOf = async (tenantId: number, name: string, text: string | number | undefined): Promise<DialplanVersion> => {
    const n = typeof text === 'number' ? text : /^[1-9][0-9]{0,8}$/.test(text ?? '') ? Number(text) : NaN;
    const v = Number.isNaN(n) ? undefined : await d.db.dialplans.getVersion(tenantId, name, n);
    if (!v) throw new ApiError(404, 'dialplan version not found');
    return v;
  };

  api.define({ ...base, method: 'get', path: '/dialplans/:name/versions/:version', summary: 'One version with its source', response: one }, async (input) => ({
    dialplan: showDialplan(await versionOf(input.tenantId, await nameOf(input), input.params['version'])),
  }));

  api.define(
    { ...base, method: 'post', path: '/dialplans/:name/rollback', summary: 'Save a new version whose source is an old version\'s', body: rollbackBody, response: one },
    async (input) => {
      const name = await nameOf(input);
      const old = await versionOf(input.tenantId, name, input.body.version);
      return saveVersion(input, name, old.language, old.source, input.body.message ?? `rollback to version ${old.version}`, 'dialplan.rollback');
    },
  );

  api.define({ ...base, method: 'get', path: '/dialplans/:name/diff', summary: 'Unified diff between two versions', query: diffQuery, response: z.object({ diff: z.string() }) }, async (input) => {
    const name = await nameOf(input);
    const from = await versionOf(input.tenantId, name, input.query.from);
    const to = await versionOf(input.tenantId, name, input.query.to);
    // Loaded at the first diff asked for: the idle switch does not hold it.
    const { createTwoFilesPatch } = await import('diff');
    return { diff: createTwoFilesPatch(`${name}@${from.version}`, `${name}@${to.version}`, from.source, to.source, undefined, undefined, { context: 3 }) };
  });

  api.define(
    {
      ...base,
      method: 'post',
      path: '/dialplans/:name/dry-run',
      summary: 'Run the dialplan (saved, or `source` unsaved) in the sandbox for a described call, against simulated legs: the timeline. No SIP, no CDR; KV writes only with useRealKv',
      body: dryRunBody,
      response: dryRunReportSchema,
    },
    async (input) => {
      const name = await nameOf(input);
      const body = input.body;
      let dialplan: { js: string; sourceMap: string };
      if (body.source !== undefined) {
        const compiled = await d.compileDialplan(body.source, body.language ?? 'ts');
        if (!compiled.ok || compiled.js === undefined || compiled.sourceMap === undefined) {
          throw new ApiError(422, `dialplan ${name} does not compile`, 'source', { errors: compiled.errors ?? [] });
        }
        dialplan = { js: compiled.js, sourceMap: compiled.sourceMap };
      } else {
        const v = await current(input.tenantId, name);
        dialplan = { js: v.compiledJs, sourceMap: v.sourceMap };
      }
      if (!d.dryRun) throw new ApiError(503, 'dry runs need the running switch');
      const tenant = await d.db.tenants.get(input.tenantId);
      if (!tenant) throw new ApiError(404, 'tenant not found');
      try {
        const report = await d.dryRun({
          tenant: { id: tenant.id, domain: tenant.domain }, dialplanName: name, dialplan,
          call: body.call, outcomes: body.outcomes, defaultOutcome: body.defaultOutcome, useRealKv: body.useRealKv, webGet: body.webGet,
        });
        // A run that may have written the tenant's store leaves an audit row, like any other write.
        if (body.useRealKv) await d.db.transaction((tx) => input.audit(tx, { action: 'dialplan.dry-run', target: `dialplan:${name}`, details: { useRealKv: true } }));
        return report;
      } catch (err) {
        if (err instanceof DryRunRequestError) throw new ApiError(400, err.message, err.field);
        throw err;
      }
    },
  );
}
