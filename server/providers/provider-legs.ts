import { isProtectedProviderHeader } from '../../db/index.ts';
import { parseUri, type ClientCredentials, type SipUri } from '../sip/index.ts';
import { checkDestination } from './destination-policy.ts';
import { formatForProvider, toE164 } from './number-format.ts';
import { ProviderCallGuard } from './provider-call-guard.ts';
import type { ProviderRecord, ProviderSource } from './provider-directory.ts';


/** How long a provider's server target may stay silent before the next one is tried (Kamailio's fr_timer is 30 s; trunks answer 100 Trying at once). */
export const DEFAULT_PROVISIONAL_TIMEOUT_MS = 5000;

export type ProviderLegPlan =
  /** No provider of that name: the name may be a domain. */
  | { kind: 'unknown' }
  /** Its OPTIONS pings go unanswered: fail at once so the dial string's next group takes over. */
  | { kind: 'down'; provider: string }
  /** The destination policy refused the leg; nothing may be sent. */
  | { kind: 'blocked'; provider: string; number: string; e164?: string; rule: string }
  | {
      kind: 'dial';
      provider: string;
      providerId: number;
      /** `sip:<number>@<provider server>` with the server's port and transport. */
      requestUri: SipUri;
      /** Where the INVITE goes first: the outbound proxy or the server. */
      nextHop: SipUri;
      /** Route header for a loose-routing outbound proxy. */
      route?: string;
      credentials?: ClientCredentials;
      fromUser?: string;
      fromHost: string;
      displayName?: string;
      headers: Array<[string, string]>;
      assertIdentity: boolean;
      privacy?: string;
      maxDurationSeconds?: number;
      e164?: string;
      /** Give up on a silent server target after this long (0: Timer B). */
      provisionalTimeoutMs: number;
      /** Server targets (`transport:address:port`) the OPTIONS pings found down: tried after the others. */
      downTargets: ReadonlySet<string>;
    };

export interface ProviderLegRequest {
  tenantId: number;
  /** The account that placed the call (per-account caps); none for calls without one. */
  accountId?: number;
  callId: string;
  provider: string;
  /** The number (user part) the dial string asked for. */
  number: string;
}

/**
 * Outbound provider legs: what the INVITE to a provider looks like, after the tenant's destination
 * policy (prefixes, caps) said yes. Every provider leg passes here, whatever dialplan made it.
 */
export class ProviderLegs {
  readonly guard: ProviderCallGuard;
  /** Provider health (OPTIONS pings), when running. */
  health?: { isDown(providerId: number): boolean; downTargets?(providerId: number): ReadonlySet<string> };

  constructor(private readonly source: ProviderSource, opts: { guard?: ProviderCallGuard } = {}) {
    this.guard = opts.guard ?? new ProviderCallGuard();
  }

  async plan(req: ProviderLegRequest): Promise<ProviderLegPlan> {
    const p = await this.source.find(req.tenantId, req.provider);
    if (!p) return { kind: 'unknown' };
    if (this.health?.isDown(p.id)) return { kind: 'down', provider: p.name };
    const e164 = toE164(req.number, p.settings);
    const policy = await this.source.policy(req.tenantId);
    const verdict = checkDestination(e164, policy);
    if (!verdict.allowed) return { kind: 'blocked', provider: p.name, number: req.number, e164, rule: verdict.rule };
    const caps = this.guard.tryStart({ tenantId: req.tenantId, accountId: req.accountId, callId: req.callId, policy });
    if (!caps.allowed) return { kind: 'blocked', provider: p.name, number: req.number, e164, rule: caps.rule };
    return { ...dialPlan(p, req.number, e164, policy.maxDurationSeconds), downTargets: this.health?.downTargets?.(p.id) ?? new Set() };
  }

  /**
   * The destination policy's prefix verdict on a number via a provider, without counting it
   * against the caps: a click-to-call is refused before anyone's phone rings, and the leg is
   * still planned (caps and all) when it is dialled.
   */
  async screen(req: Omit<ProviderLegRequest, 'callId' | 'accountId'>): Promise<{ kind: 'unknown' | 'allowed' } | Extract<ProviderLegPlan, { kind: 'blocked' }>> {
    const p = await this.source.find(req.tenantId, req.provider);
    if (!p) return { kind: 'unknown' };
    const e164 = toE164(req.number, p.settings);
    const verdict = checkDestination(e164, await this.source.policy(req.tenantId));
    return verdict.allowed ? { kind: 'allowed' } : { kind: 'blocked', provider: p.name, number: req.number, e164, rule: verdict.rule };
  }

  /** The call ended: its provider call slots are free again. */
  callEnded(callId: string): void {
    this.guard.release(callId);
  }
}

function dialPlan(p: ProviderRecord, number: string, e164: string | undefined, maxDurationSeconds: number): Omit<Extract<ProviderLegPlan, { kind: 'dial' }>, 'downTargets'> {
  const server = parseUri(p.serverUri);
  const user = formatForProvider(number, e164, p.settings);
  const requestUri: SipUri = { ...server, user, password: undefined, params: pickTransport(server.params), headers: {} };
  const proxy = p.outboundProxy ? parseUri(p.outboundProxy) : undefined;
  const headers: Array<[string, string]> = [];
  // Checked again here: rows can be written by other tools than the repository.
  for (const [name, value] of Object.entries(p.customHeaders)) if (!isProtectedProviderHeader(name)) headers.push([name, value]);
  const authUser = p.authUser ?? p.username;
  return {
    kind: 'dial',
    provider: p.name,
    providerId: p.id,
    requestUri,
    nextHop: proxy ?? server,
    route: proxy ? `<${formatRoute(proxy)}>` : undefined,
    credentials: authUser && p.password !== undefined ? { username: authUser, password: p.password } : undefined,
    fromUser: p.fromUser ?? undefined,
    fromHost: p.settings.fromHost ?? server.host,
    displayName: p.settings.displayName,
    headers,
    assertIdentity: p.settings.assertIdentity === true,
    privacy: p.settings.privacy,
    maxDurationSeconds: maxDurationSeconds > 0 ? maxDurationSeconds : undefined,
    e164,
    provisionalTimeoutMs: p.settings.provisionalTimeoutMs ?? DEFAULT_PROVISIONAL_TIMEOUT_MS,
  };
}

function pickTransport(params: Record<string, string | null>): Record<string, string | null> {
  return params['transport'] ? { transport: params['transport'] } : {};
}

function formatRoute(uri: SipUri): string {
  const host = uri.host.includes(':') && !uri.host.startsWith('[') ? `[${uri.host}]` : uri.host;
  const transport = uri.params['transport'] ? `;transport=${uri.params['transport']}` : '';
  return `${uri.scheme}:${host}${uri.port ? `:${uri.port}` : ''}${transport};lr`;
}
