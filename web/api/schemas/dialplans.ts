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
