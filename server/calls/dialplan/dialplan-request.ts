import type { SipRequest } from '../../sip/index.ts';
import type { SipUri } from '../../sip/index.ts';
import type { DialplanRequest } from '../../../sandbox/index.ts';

export function uriText(u: SipUri): string {
  const user = u.user ? `${u.user}@` : '';
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return `${u.scheme}:${user}${host}${u.port ? `:${u.port}` : ''}`;
}

function uriCopy(u: SipUri): DialplanRequest['uri'] {
  return {
    user: u.user ?? '', host: u.host, port: u.port,
    params: Object.fromEntries(Object.entries(u.params).map(([k, v]) => [k, v ?? ''])), raw: uriText(u),
  };
}

/**
 * The plain copy of a request that becomes a dialplan's `req` (credentials removed).
 * `requestUri` replaces the Request-URI: a nested local-account dialplan sees the account it
 * runs for as the dialled user.
 */
export function toDialplanRequest(
  r: SipRequest,
  ctx: { username: string; domain: string; direction: 'in' | 'out'; requestUri?: SipUri; provider?: string; did?: string },
): DialplanRequest {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of r.headers.entries()) {
    const k = name.toLowerCase();
    if (k === 'authorization' || k === 'proxy-authorization') continue;
    (headers[k] ??= []).push(value);
  }
  return {
    method: r.method,
    uri: uriCopy(ctx.requestUri ?? r.uri),
    from: { displayName: r.from.displayName, uri: uriCopy(r.from.uri), tag: r.from.params['tag'] ?? undefined },
    to: { displayName: r.to.displayName, uri: uriCopy(r.to.uri), tag: r.to.params['tag'] ?? undefined },
    callId: r.callId,
    headers,
    body: r.body.toString('utf8'),
    source: { address: r.source?.address ?? '', port: r.source?.port ?? 0, transport: r.source?.transport ?? 'udp' },
    account: { username: ctx.username, domain: ctx.domain },
    direction: ctx.direction,
    ...(ctx.provider !== undefined && { provider: ctx.provider }),
    ...(ctx.did !== undefined && { did: ctx.did }),
  };
}
