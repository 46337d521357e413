import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

type Doc = { openapi: string; paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: unknown; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };

describe('OpenAPI document', () => {
  let h: ApiHarness;
  let doc: Doc;

  beforeAll(async () => {
    h = await startApiHarness(testDatabaseTargets()[0]!);
    const res = await h.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => h?.close());

  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // The validator does reject a broken document (so the check above can fail).
    const broken = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
    (broken['paths'] as Record<string, Record<string, Record<string, unknown>>>)['/health']!['get']!['responses'] = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('documents every route the router answers, and nothing it does not', () => {
    const answered = new Set<string>();
    for (const layer of h.api.router.stack) {
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        answered.add(`${method.toLowerCase()} ${String(layer.path).replace(/^\/api\/v1/, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
      }
    }
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    expect([...answered].sort()).toEqual([...documented].sort());
    expect(answered.size).toBeGreaterThan(60);
  });

  it('takes request bodies, query parameters and error shapes from the zod schemas', () => {
    const put = doc.paths['/dialplans/{name}']!['put']!;
    expect(JSON.stringify(put.requestBody)).toContain('"language"');
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '422']));
    const cdrs = doc.paths['/cdrs']!['get']!;
    expect(cdrs.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['limit', 'cursor', 'from', 'to', 'account', 'direction', 'status', 'q', 'tenant']));
    for (const [path, extra] of [['/tenants', ['q']], ['/providers', ['q', 'register', 'tenant']], ['/dids', ['q', 'tenant']], ['/tokens', ['q']], ['/secrets', ['q', 'tenant']]] as const) {
      expect(doc.paths[path]!['get']!.parameters!.map((p) => p.name), path).toEqual(expect.arrayContaining(['limit', 'cursor', ...extra]));
    }
    expect(doc.paths['/accounts/{id}']!['get']!.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path' }));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Error', 'SipAccount', 'Dialplan', 'Cdr', 'AuditEntry']));
    expect(Object.keys(doc.paths['/auth/login']!['post']!.responses)).toContain('429');
  });
});
