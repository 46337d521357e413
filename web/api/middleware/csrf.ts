import { timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error.ts';
import type { AuthInfo } from './auth.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A mutation authenticated by the session cookie must carry the session's CSRF token in
 * `X-CSRF-Token` (SameSite=Strict is the first wall, this the second). Bearer tokens are
 * never sent by a browser on its own, so they need none.
 */
export function checkCsrf(method: string, auth: AuthInfo | undefined, header: string | undefined): void {
  if (!auth || auth.via !== 'session' || SAFE_METHODS.has(method)) return;
  const given = Buffer.from(header ?? '', 'utf8');
  const expected = Buffer.from(auth.csrfToken, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ApiError(403, 'missing or wrong X-CSRF-Token header', 'X-CSRF-Token');
  }
}
