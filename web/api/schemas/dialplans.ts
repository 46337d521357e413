import { z } from 'zod';

export const dialplanNameParam = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
export const dialplanSaveBody = z.object({
  language: z.enum(['ts', 'js']),
  source: z.string().max(256 * 1024),
  message: z.string().max(512).optional(),
});
export const rollbackBody = z.object({ version: z.number().int().positive(), message: z.string().max(512).optional() });
export const diffQuery = z.object({ from: z.coerce.number().int().positive(), to: z.coerce.number().int().positive() });

export const dialplanSummarySchema = z.object({ name: z.string(), language: z.string(), version: z.number().int(), updatedAt: z.number() }).meta({ id: 'DialplanSummary' });
export const dialplanSchema = z
  .object({
    name: z.string(),
    language: z.string(),
    source: z.string(),
    version: z.number().int(),
    updatedAt: z.number(),
    author: z.string().nullable(),
    message: z.string().nullable(),
  })
  .meta({ id: 'Dialplan' });
export const dialplanVersionSchema = z.object({ version: z.number().int(), author: z.string().nullable(), createdAt: z.number(), message: z.string().nullable() }).meta({ id: 'DialplanVersion' });
export const compileErrorsSchema = z.object({ error: z.string(), errors: z.array(z.object({ line: z.number().int(), column: z.number().int(), message: z.string() })) });

// ---- dry-run (server/calls/dry-run) ----

const seconds = z.number().min(0).max(180);
const actionShapes = {
  answer: { action: z.literal('answer'), after: seconds.optional() },
  busy: { action: z.literal('busy'), after: seconds.optional() },
  noAnswer: { action: z.literal('no-answer') },
  fail: { action: z.literal('fail'), status: z.number().int().min(400).max(699), reason: z.string().max(128).regex(/^[^\r\n]*$/).optional(), after: seconds.optional() },
  redirect: { action: z.literal('redirect'), target: z.string().min(1).max(256).regex(/^[^\s<>"]+$/), after: seconds.optional() },
};
const legAction = z.discriminatedUnion('action', [
  z.object(actionShapes.answer), z.object(actionShapes.busy), z.object(actionShapes.noAnswer), z.object(actionShapes.fail), z.object(actionShapes.redirect),
]);
/** `*` wildcards against the leg as the timeline writes it (`1001@local`). */
const pattern = z.string().min(1).max(256);
const outcomeRule = z.discriminatedUnion('action', [
  z.object({ pattern, ...actionShapes.answer }), z.object({ pattern, ...actionShapes.busy }), z.object({ pattern, ...actionShapes.noAnswer }),
  z.object({ pattern, ...actionShapes.fail }), z.object({ pattern, ...actionShapes.redirect }),
]);
export const dryRunBody = z.object({
  /** Unsaved editor content; without it the saved current version runs. */
  source: z.string().max(256 * 1024).optional(),
  language: z.enum(['ts', 'js']).optional(),
  call: z.object({
    direction: z.enum(['in', 'out']),
    from: z.object({
      account: z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/).optional(),
      number: z.string().regex(/^\+?[A-Za-z0-9*#._-]{1,64}$/).optional(),
      displayName: z.string().max(128).regex(/^[^\r\n"<>]*$/).optional(),
    }),
    to: z.string().regex(/^[A-Za-z0-9*#+._-]{1,64}(@[A-Za-z0-9.-]{1,253})?$/),
    headers: z.record(z.string().regex(/^[A-Za-z0-9\-.!%*_+`'~]{1,64}$/), z.string().max(512).regex(/^[^\r\n]*$/)).optional(),
    sourceAddress: z.string().max(64).regex(/^(\[[0-9A-Fa-f:.]+\]|[0-9.]+)(:\d{1,5})?$/).optional(),
    transport: z.enum(['udp', 'tcp', 'tls', 'ws', 'wss']).optional(),
  }),
  outcomes: z.array(outcomeRule).max(50).default([]),
  defaultOutcome: legAction.optional(),
  useRealKv: z.boolean().default(false),
  webGet: z.array(z.object({ url: z.string().min(1).max(2048), body: z.string().max(8192).optional(), real: z.boolean().optional() })).max(20).optional(),
});

const dryRunLeg = z.object({
  id: z.number().int(), group: z.number().int(), destination: z.string(), rule: z.string().optional(), state: z.string(),
  status: z.number().int().optional(), reason: z.string().optional(),
  startedAt: z.number().optional(), ringingAt: z.number().optional(), answeredAt: z.number().optional(), endedAt: z.number().optional(),
});
export const dryRunReportSchema = z
  .object({
    response: z.object({ status: z.number().int(), reason: z.string(), by: z.enum(['answer', 'dialplan', 'dial', 'default', 'error']) }),
    timeline: z.array(z.union([
      z.object({ kind: z.literal('sys'), at: z.number(), name: z.string(), args: z.array(z.unknown()), result: z.unknown().optional(), error: z.string().optional() }),
      z.object({ kind: z.literal('log'), at: z.number(), message: z.string() }),
      z.object({
        kind: z.literal('dial'), at: z.number(), via: z.enum(['Dial', 'Callback']), dialString: z.string(), legs: z.array(dryRunLeg), answered: z.boolean(),
        status: z.number().int(), reason: z.string(), outcome: z.string(), winner: z.number().int().optional(), endedAt: z.number(),
      }),
    ])),
    usage: z.object({ cpuMs: z.number().nullable(), wallMs: z.number(), simulatedMs: z.number() }),
    limit: z.enum(['cpu', 'memory', 'wall-clock', 'absolute', 'concurrency']).optional(),
    error: z.object({ message: z.string(), line: z.number().int().optional(), column: z.number().int().optional() }).optional(),
  })
  .meta({ id: 'DryRunReport' });
