/**
 * Which failure a forked Dial reports when no leg answered (SIPSorcery keeps the "best" final
 * failure across legs; RFC 3261 §16.7 step 6 does the same for a forking proxy). The order says
 * how much a status tells the caller about the callee:
 *
 *   6xx (600 busy everywhere, 603 decline, 604, 606)  — definitive for the whole callee
 *   486 Busy Here
 *   other 4xx (403, 404, 484, 488, …)                — a specific reason
 *   5xx (503 last among them)
 *   480 Temporarily Unavailable                       — nobody picked up / not registered
 *   408 Request Timeout
 *   3xx that could not be followed
 *   487 Request Terminated                            — we cancelled it ourselves
 *
 * Within a rank the lower code wins (600 over 603); on a full tie the earlier failure wins.
 */
export function failureRank(status: number): number {
  if (status >= 600 && status < 700) return 1000 - (status - 600);
  if (status === 486) return 900;
  if (status === 487) return 10;
  if (status === 480) return 400;
  if (status === 408) return 300;
  if (status >= 400 && status < 500) return 800 - (status - 400);
  if (status >= 500 && status < 600) return status === 503 ? 500 : 700 - (status - 500);
  if (status >= 300 && status < 400) return 200;
  return 0;
}

/** True when `candidate` should replace `current` as the reported failure. */
export function isBetterFailure(candidate: number, current: number | undefined): boolean {
  return current === undefined || failureRank(candidate) > failureRank(current);
}
