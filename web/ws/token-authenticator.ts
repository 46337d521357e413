import type { IncomingMessage } from 'node:http';
import type { WebUser } from '../../db/index.ts';

/** db.tokens satisfies this. */
export interface TokenVerifier {
  verify(token: string): Promise<{ user: WebUser } | undefined>;
}

/**
 * `Authorization: Bearer <api token>` or `?token=<api token>` (browsers cannot set headers on a
 * WebSocket). The query is read here and nowhere logs it.
 */
export function bearerTokenAuthenticator(tokens: TokenVerifier): (req: IncomingMessage) => Promise<WebUser | null> {
  return async (req) => {
    const header = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token') ?? undefined;
    const token = header ?? query;
    if (!token || token.length > 512) return null;
    return (await tokens.verify(token))?.user ?? null;
  };
}
