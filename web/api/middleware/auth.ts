import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { ApiTokenScope, Database, WebUser } from '../../../db/index.ts';

export const SESSION_COOKIE = 'pb_session';

export interface SessionSettings {
  /** Absolute session lifetime from login. Default 12 h. */
  maxAgeMs: number;
  /** A session unused this long is over. Default 30 min. */
  idleMs: number;
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = { maxAgeMs: 12 * 3600_000, idleMs: 30 * 60_000 };

/** Who is calling and how they proved it. */
export type AuthInfo =
  | { via: 'session'; user: WebUser; sessionId: number; csrfToken: string }
  | { via: 'token'; user: WebUser; tokenId: number; scopes: readonly ApiTokenScope[] };

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * Resolves a request to who made it: an `Authorization: Bearer` API token first, else the
 * `pb_session` cookie. `queryToken` is the WebSocket upgrade's `?token=` (browsers cannot set
 * headers there). Null for no, unknown, expired or idle credentials and disabled users.
 */
export async function authenticate(
  db: Database,
  headers: IncomingHttpHeaders,
  opts: { session?: SessionSettings; queryToken?: string } = {},
): Promise<AuthInfo | null> {
  const bearer = bearerOf(headers.authorization) ?? opts.queryToken;
  if (bearer !== undefined) {
    const t = await db.tokens.verify(bearer);
    return t ? { via: 'token', user: t.user, tokenId: t.tokenId, scopes: t.scopes } : null;
  }
  const cookie = readCookie(headers.cookie, SESSION_COOKIE);
  if (cookie !== undefined) {
    const s = await db.sessions.verify(cookie, (opts.session ?? DEFAULT_SESSION_SETTINGS).idleMs);
    return s ? { via: 'session', user: s.user, sessionId: s.session.id, csrfToken: s.csrfToken } : null;
  }
  return null;
}

function isIncomingMessage(x: IncomingHttpHeaders | IncomingMessage): x is IncomingMessage {
  return typeof (x as IncomingMessage).headers === 'object' && typeof (x as IncomingMessage).method === 'string';
}

/**
 * For the event hub's WebSocket upgrade: the user behind a request's session cookie, bearer
 * token or (IncomingMessage only) `?token=` query parameter; null when none is valid.
 */
export async function authenticateRequest(db: Database, request: IncomingHttpHeaders | IncomingMessage, opts: { session?: SessionSettings } = {}): Promise<WebUser | null> {
  if (!isIncomingMessage(request)) return (await authenticate(db, request, opts))?.user ?? null;
  const token = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token') ?? undefined;
  return (await authenticate(db, request.headers, { ...opts, ...(token !== undefined && { queryToken: token }) }))?.user ?? null;
}
