import { z } from 'zod';
import type { DeclaredRoute } from './api-router.ts';
import { errorSchema } from './schemas/common.ts';

type JsonObject = Record<string, unknown>;

/** JSON Schema of a zod schema; named sub-schemas (`.meta({id})`) go to `components.schemas`. */
function toSchema(schema: z.ZodType, components: JsonObject, io: 'input' | 'output'): JsonObject {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io }) as JsonObject;
  const defs = (json['$defs'] ?? {}) as JsonObject;
  delete json['$defs'];
  delete json['$schema'];
  const fix = (o: JsonObject): JsonObject => JSON.parse(JSON.stringify(o).replace(/"#\/\$defs\//g, '"#/components/schemas/')) as JsonObject;
  for (const [name, def] of Object.entries(defs)) components[name] = fix(def as JsonObject);
  // A top-level schema with an id comes back as the definition itself.
  const id = (json['id'] as string | undefined) ?? undefined;
  if (id) {
    delete json['id'];
    components[id] = fix(json);
    return { $ref: `#/components/schemas/${id}` };
  }
  return fix(json);
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'Bad input; `field` names it',
  401: 'Not signed in (or wrong credentials)',
  403: 'Role, token scope or CSRF token does not allow this',
  404: 'Unknown, or another tenant\'s',
  409: 'Duplicate or conflicting state',
  422: 'Dialplan does not compile: `errors` lists {line, column, message}',
  429: 'Too many failed sign-ins; see Retry-After',
};

/** OpenAPI 3.1 from the route declarations and their zod schemas: the same ones that validate requests. */
export function buildOpenApi(routes: readonly DeclaredRoute[], info: { version: string; prefix: string }): JsonObject {
  const schemas: JsonObject = {};
  const paths: Record<string, JsonObject> = {};
  const errorRef = toSchema(errorSchema, schemas, 'output');
  for (const { spec } of routes) {
    const path = spec.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: JsonObject[] = [...spec.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (spec.query) {
      const q = toSchema(spec.query, schemas, 'input');
      const required = new Set((q['required'] as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries((q['properties'] ?? {}) as JsonObject)) {
        parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    }
    if (spec.tenantScoped) {
      parameters.push({ name: 'tenant', in: 'query', required: false, description: 'Operators: the tenant id to work on (required for them). Ignored for tenant users.', schema: { type: 'integer' } });
    }
    const status = spec.status ?? 200;
    const responses: JsonObject = {};
    if (status === 204) responses['204'] = { description: STATUS_TEXT[204] };
    else if (spec.produces) {
      responses[String(status)] = { description: STATUS_TEXT[status], content: Object.fromEntries(spec.produces.map((t) => [t, { schema: {} }])) };
    } else {
      responses[String(status)] = { description: STATUS_TEXT[status], content: { 'application/json': { schema: spec.response ? toSchema(spec.response, schemas, 'output') : {} } } };
    }
    const errors = [400, ...(spec.roles === 'public' ? [] : [401, 403]), 404, ...(spec.method !== 'get' ? [409] : []), ...(spec.tag === 'dialplans' && spec.method !== 'get' ? [422] : []), ...(spec.path === '/auth/login' ? [429] : [])];
    for (const code of errors) responses[String(code)] = { description: STATUS_TEXT[code], content: { 'application/json': { schema: errorRef } } };
    const operation: JsonObject = {
      operationId: `${spec.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: spec.summary,
      tags: [spec.tag],
      'x-roles': spec.roles,
      ...(spec.roles === 'public' ? { security: [] } : {}),
      parameters,
      responses,
    };
    if (spec.body) operation['requestBody'] = { required: true, content: { 'application/json': { schema: toSchema(spec.body, schemas, 'input') } } };
    else if (spec.consumes) operation['requestBody'] = { required: true, content: Object.fromEntries(spec.consumes.map((t) => [t, { schema: { type: 'string' } }])) };
    (paths[path] ??= {})[spec.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Patchbay API',
      version: info.version,
      description: 'Browser clients sign in with POST /auth/login (cookie pb_session; send X-CSRF-Token on every mutation); scripts use Authorization: Bearer <API token>.',
    },
    servers: [{ url: info.prefix }],
    security: [{ session: [] }, { bearer: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'pb_session' },
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (scopes read, write, calls)' },
      },
    },
  };
}
