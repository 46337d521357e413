import type {
  Account, Binding, Cdr, CdrQuery, CompileError, CreateAccountInput, Dialplan, DialplanSummary,
  DialplanVersion, ErrorBody, ListPage, ListQuery, LoginInput, SaveDialplanInput, Session,
  UpdateAccountInput, CallParty,
} from './types.ts';
import type { DryRunInput, DryRunReport } from './types.ts';

const BASE = '/api/v1';

/** Any non-2xx answer; `field` names the offending input when the API says so. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly body?: ErrorBody,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get twoFactorRequired(): boolean {
    return this.body?.twoFactorRequired === true;
  }
}

/** 422 from a dialplan save: nothing was stored. */
export class CompileFailedError extends ApiError {
  constructor(message: string, readonly errors: CompileError[], body: ErrorBody) {
    super(422, message, undefined, body);
    this.name = 'CompileFailedError';
  }
}

// The session's CSRF token lives only in memory: it is handed out by login/session and sent on
// every mutation, so a page on another origin that rides the cookie cannot mutate anything.
let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** Called when an authenticated call comes back 401 (session expired or revoked elsewhere). */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export function query(params: object): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

async function parseError(response: Response): Promise<ApiError> {
  let body: ErrorBody | undefined;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  const message = typeof body?.error === 'string' ? body.error : `${response.status} ${response.statusText}`;
  if (response.status === 422 && body && Array.isArray(body.errors)) {
    return new CompileFailedError(message, body.errors, body);
  }
  return new ApiError(response.status, message, body?.field, body);
}

export interface RequestOptions {
  /** Do not treat a 401 as "session gone" (login and session probes expect it). */
  authProbe?: boolean;
}

// An operator works on one tenant at a time: tenant-scoped routes need `?tenant=<id>` from them
// (the API ignores it for everyone else, and strips it before validating a route's own query).
let operatorTenant: number | null = null;

/** The tenant an operator's tenant-scoped requests name (null: none chosen). */
export function setOperatorTenant(id: number | null): void {
  operatorTenant = id;
}

function withTenant(path: string): string {
  if (operatorTenant === null) return path;
  return `${path}${path.includes('?') ? '&' : '?'}tenant=${operatorTenant}`;
}

export async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(BASE + withTenant(path), {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const error = await parseError(response);
    if (response.status === 401 && !options.authProbe) {
      csrfToken = null;
      onUnauthorized?.();
    }
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** Most pages a list is followed through; a tenant with more sees the first ones and a note. */
const MAX_PAGES = 50;

/**
 * Every item of a `{items, nextCursor}` list, following the cursor (the server picks the page
 * size, so no limit it might refuse is sent).
 */
export async function listAll<T>(page: (q: ListQuery) => Promise<ListPage<T>>): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const result = await page(cursor === undefined ? {} : { cursor });
    items.push(...result.items);
    if (!result.nextCursor) return { items, complete: true };
    cursor = result.nextCursor;
  }
  return { items, complete: false };
}

/** One account comes in an `{account}` envelope, like `{dialplan}`. */
type AccountBody = { account: Account };
const unwrapAccount = (body: AccountBody): Account => body.account;

export const api = {
  auth: {
    async login(input: LoginInput): Promise<Session> {
      const session = await request<Session>('POST', '/auth/login', input, { authProbe: true });
      csrfToken = session.csrfToken;
      return session;
    },
    /** The current cookie session, or null when there is none. */
    async session(): Promise<Session | null> {
      try {
        const session = await request<Session>('GET', '/auth/session', undefined, { authProbe: true });
        csrfToken = session.csrfToken;
        return session;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    async logout(): Promise<void> {
      try {
        await request<void>('POST', '/auth/logout', undefined, { authProbe: true });
      } finally {
        csrfToken = null;
      }
    },
  },

  dialplans: {
    list: (q: ListQuery = {}) => request<ListPage<DialplanSummary>>('GET', `/dialplans${query(q)}`),
    get: async (name: string) => (await request<{ dialplan: Dialplan }>('GET', `/dialplans/${seg(name)}`)).dialplan,
    /** Saves a new version (creating the dialplan if new); a compile error throws CompileFailedError. */
    save: async (name: string, input: SaveDialplanInput) =>
      (await request<{ dialplan: Dialplan }>('PUT', `/dialplans/${seg(name)}`, input)).dialplan,
    remove: (name: string) => request<void>('DELETE', `/dialplans/${seg(name)}`),
    versions: (name: string, q: ListQuery = {}) =>
      request<ListPage<DialplanVersion>>('GET', `/dialplans/${seg(name)}/versions${query(q)}`),
    version: async (name: string, version: number) =>
      (await request<{ dialplan: Dialplan }>('GET', `/dialplans/${seg(name)}/versions/${seg(version)}`)).dialplan,
    rollback: async (name: string, version: number) =>
      (await request<{ dialplan: Dialplan }>('POST', `/dialplans/${seg(name)}/rollback`, { version })).dialplan,
    diff: async (name: string, from: number, to: number) =>
      (await request<{ diff: string }>('GET', `/dialplans/${seg(name)}/diff${query({ from, to })}`)).diff,
    /** Runs it (or unsaved `source`) against simulated legs; a compile error throws CompileFailedError. */
    dryRun: (name: string, input: DryRunInput) => request<DryRunReport>('POST', `/dialplans/${seg(name)}/dry-run`, input),
  },

  accounts: {
    list: (q: ListQuery = {}) => request<ListPage<Account>>('GET', `/accounts${query(q)}`),
    get: async (id: number) => unwrapAccount(await request<AccountBody>('GET', `/accounts/${seg(id)}`)),
    create: async (input: CreateAccountInput) => unwrapAccount(await request<AccountBody>('POST', '/accounts', input)),
    update: async (id: number, input: UpdateAccountInput) =>
      unwrapAccount(await request<AccountBody>('PATCH', `/accounts/${seg(id)}`, input)),
    remove: (id: number) => request<void>('DELETE', `/accounts/${seg(id)}`),
    bindings: (id: number, q: ListQuery = {}) => request<ListPage<Binding>>('GET', `/accounts/${seg(id)}/bindings${query(q)}`),
    unregister: (id: number, bindingId: string) =>
      request<void>('DELETE', `/accounts/${seg(id)}/bindings/${seg(bindingId)}`),
  },

  cdrs: {
    list: (q: CdrQuery = {}) => request<ListPage<Cdr>>('GET', `/cdrs${query(q)}`),
    /** A plain link (the browser streams the download with the session cookie). */
    exportUrl: (format: 'csv' | 'json', q: Omit<CdrQuery, 'limit' | 'cursor'> = {}) =>
      withTenant(`${BASE}/cdrs/export${query({ ...q, format })}`),
  },
};

/** The switch's answer to a call-control request (the change itself arrives as events). */
type ControlAnswer = { ok: true };

/**
 * Live call control (web/api/routes/calls.ts). Every answer only says the switch took the
 * request; the switchboard shows the effect when the event stream says so.
 */
export const callControl = {
  hangup: (id: string) => request<ControlAnswer>('POST', `/calls/${seg(id)}/hangup`),
  hold: (id: string, party: CallParty) => request<ControlAnswer>('POST', `/calls/${seg(id)}/hold`, { party }),
  unhold: (id: string) => request<ControlAnswer>('POST', `/calls/${seg(id)}/unhold`),
  /** `party` stays and is connected to `destination` (an extension or a sip: URI); the other party leaves. */
  transfer: (id: string, party: CallParty, destination: string) => request<ControlAnswer>('POST', `/calls/${seg(id)}/transfer`, { party, destination }),
  /** `party` (the switchboard's own phone) consults `destination` while the other party waits on hold. */
  consult: (id: string, party: CallParty, destination: string) => request<ControlAnswer>('POST', `/calls/${seg(id)}/consult`, { party, destination }),
  completeConsult: (id: string) => request<ControlAnswer>('POST', `/calls/${seg(id)}/consult/complete`),
  cancelConsult: (id: string) => request<ControlAnswer>('POST', `/calls/${seg(id)}/consult/cancel`),
  park: (id: string, party: CallParty, slot?: string) =>
    request<ControlAnswer & { slot?: string }>('POST', `/calls/${seg(id)}/park`, slot === undefined ? { party } : { party, slot }),
  retrieve: (slot: string, destination: string) => request<ControlAnswer>('POST', `/parking/${seg(slot)}/retrieve`, { destination }),
  /** A ringing call (by id) or whatever rings `extension`, answered at `destination`. */
  pickup: (target: { callId: string } | { extension: string }, destination: string) =>
    request<ControlAnswer>('POST', '/calls/pickup', { ...target, destination }),
};

/**
 * The raw request helper for API parts this client does not wrap yet (the switchboard's
 * phonebook, notes and DND come from other branches).
 */
export async function apiRequest<T>(method: string, path: string, body?: unknown): Promise<T> {
  return request<T>(method, path, body);
}

/** A text answer (CSV export) or a text body (CSV import), with the same session and CSRF handling. */
export async function apiText(method: string, path: string, text?: string, contentType = 'text/csv'): Promise<string> {
  const headers: Record<string, string> = {};
  if (text !== undefined) headers['Content-Type'] = contentType;
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(BASE + path, { method, headers, credentials: 'same-origin', body: text });
  if (!response.ok) {
    const error = await parseError(response);
    if (response.status === 401) {
      csrfToken = null;
      onUnauthorized?.();
    }
    throw error;
  }
  return response.text();
}

export type Api = typeof api;
