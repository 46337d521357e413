/** When the registration agent acts next (pure, so a fake clock can check every step). */

/** First retry after a failure; each further failure doubles it, up to {@link MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 30_000;
export const MAX_BACKOFF_MS = 30 * 60_000;
/** Refresh at this share of the granted expiry (RFC 3261 leaves it to the UA; 80 % is the habit). */
export const REFRESH_AT = 0.8;
/** The share of a backoff delay taken off at random, so many trunks failing together do not retry in step. */
export const BACKOFF_JITTER = 0.2;

export function refreshDelayMs(grantedSeconds: number): number {
  return Math.max(1000, Math.floor(grantedSeconds * 1000 * REFRESH_AT));
}

/** Delay before retry number `failures` (1 = after the first failure); `random` in [0, 1). */
export function backoffDelayMs(failures: number, random: number): number {
  const base = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, Math.min(failures - 1, 16)));
  return Math.round(base * (1 - BACKOFF_JITTER * random));
}
