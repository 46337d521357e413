import { z } from 'zod';
import { ApiError } from '../middleware/api-error.ts';

export const errorSchema = z.object({ error: z.string(), field: z.string().optional() }).meta({ id: 'Error' });

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(200).optional(),
});

export const idParam = z.string().regex(/^[1-9][0-9]{0,15}$/);

/** A path id: a positive integer, else 404 like any unknown object. */
export function idFrom(text: string | undefined, what: string): number {
  if (text === undefined || !idParam.safeParse(text).success) throw new ApiError(404, `${what} not found`);
  return Number(text);
}

/** An id cursor (`"123"`); anything else is a 400 naming `cursor`. */
export function idCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(cursor)) throw new ApiError(400, 'cursor: not a cursor this list gave out', 'cursor');
  return Number(cursor);
}

/**
 * A cursor that is the last row's unique sort key (a name, a domain, a number), which `valid`
 * describes; anything else is a 400 naming `cursor`.
 */
export function keyCursor(cursor: string | undefined, valid: RegExp): string | undefined {
  if (cursor === undefined) return undefined;
  if (!valid.test(cursor)) throw new ApiError(400, 'cursor: not a cursor this list gave out', 'cursor');
  return cursor;
}

/** A text filter of a list (`q`): contains, letter case aside; empty means no filter. */
export const textFilter = z.string().max(100).optional();

/** A true/false query parameter (a query string has no booleans). */
export const booleanParam = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * The contract's list shape from a page fetched with limit + 1 rows: the extra row only says
 * there is a next page, whose cursor is the last returned row's key.
 */
export function page<T, I>(rows: readonly T[], limit: number, keyOf: (row: T) => string, show: (row: T) => I): { items: I[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items: items.map(show), nextCursor: rows.length > limit && items.length > 0 ? keyOf(items[items.length - 1]!) : null };
}

/** The list envelope schema around an item schema (OpenAPI). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** A SIP password or web password: ≥ 8 characters, one line. */
export const password8 = z.string().min(8, 'must be at least 8 characters').max(256).regex(/^[^\r\n\0]*$/, 'must be on one line');

/** Epoch ms, or an ISO 8601 date/time. */
export const timeParam = z
  .string()
  .refine((v) => /^\d{1,15}$/.test(v) || !Number.isNaN(Date.parse(v)), 'must be epoch milliseconds or an ISO 8601 time')
  .transform((v) => (/^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v)));
