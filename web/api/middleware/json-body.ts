import type { Context } from 'koa';
import { ApiError } from './api-error.ts';

const MAX_BODY_BYTES = 1024 * 1024;

/** Reads and parses a JSON request body (≤ 1 MiB); bad input becomes a 4xx ApiError, never a 500. */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  const type = ctx.request.type;
  if (type && type !== 'application/json') throw new ApiError(415, 'expected Content-Type application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new ApiError(400, 'request body is empty');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(400, `invalid JSON: ${(err as Error).message}`);
  }
}
