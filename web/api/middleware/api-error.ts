/** An error a handler throws to answer with `{ error, field?, ...extra }` and the given HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | undefined;
  /** More members of the error body (`twoFactorRequired`, `errors`). */
  readonly extra: Record<string, unknown>;
  /** Sent as Retry-After (429). */
  readonly retryAfterSec: number | undefined;
  constructor(status: number, message: string, field?: string, extra: Record<string, unknown> = {}, retryAfterSec?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
    this.extra = extra;
    this.retryAfterSec = retryAfterSec;
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, `${what} not found`);
