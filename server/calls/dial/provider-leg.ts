import dns from 'node:dns/promises';
import net from 'node:net';
import type { TenantRef } from '../../registrar/index.ts';
import { formatNameAddr, uriTransport, type Endpoint, type NameAddr, type SipUri } from '../../sip/index.ts';
import { targetKey, type ProviderLegPlan } from '../../providers/index.ts';
import type { BranchTarget } from '../legs/index.ts';
import type { CallServiceOptions } from '../call-service-deps.ts';
import type { DialLeg } from './dial-string.ts';
import type { LegFailure } from './forking.ts';
import { sipPortFor, type LegDestinationPolicy } from './leg-destination-policy.ts';

/** The From and extra headers of a leg's INVITE, before and after a provider's settings apply. */
export interface LegRequestShape {
  from: NameAddr;
  headers: Array<[string, string]>;
}

export type ProviderLegResolution =
  | { kind: 'unknown' }
  | { kind: 'failure'; failure: LegFailure }
  | { kind: 'branches'; targets: BranchTarget[]; to: NameAddr; inTurn: true; shape: (base: LegRequestShape) => LegRequestShape };

export const DESTINATION_BLOCKED = 'Destination blocked by policy';

export interface ProviderLegContext {
  opts: CallServiceOptions;
  tenant: TenantRef;
  callId?: string;
  accountId?: number;
  dialplanName?: string;
  networkPolicy: LegDestinationPolicy;
}

/**
 * A `number@provider` or bare `provider` leg: the tenant's destination policy first (a refused
 * leg sends nothing and is logged to the tenant's console with the rule), then the INVITE as the
 * provider wants it — its server or outbound proxy, From user/host, headers, credentials.
 */
export async function resolveProviderLeg(leg: DialLeg, user: string, providerName: string, ctx: ProviderLegContext): Promise<ProviderLegResolution> {
  const { opts, tenant } = ctx;
  const providers = opts.providers;
  if (!providers) return { kind: 'unknown' };
  // Legs without a call (never today) still count, under one shared id.
  const plan = await providers.plan({ tenantId: tenant.id, accountId: ctx.accountId, callId: ctx.callId ?? 'no-call', provider: providerName, number: user });
  if (plan.kind === 'unknown') return plan;
  if (plan.kind === 'down') return { kind: 'failure', failure: { status: 503, reason: 'Provider down' } };
  if (plan.kind === 'blocked') {
    blocked(plan, ctx);
    return { kind: 'failure', failure: { status: 403, reason: DESTINATION_BLOCKED } };
  }
  const hop = plan.nextHop;
  let flows: Endpoint[];
  try {
    flows = await locate(hop, opts);
  } catch {
    flows = [];
  }
  if (flows.length === 0) return { kind: 'failure', failure: { status: 503, reason: `Provider host ${hop.host} not found` } };
  // A provider may listen on any port of a public address (5080 is common), but its server, like
  // any leg, never reaches this switch or a private network the operator did not allow.
  const allowed = flows.filter((flow) => {
    const problem = ctx.networkPolicy.problem(flow);
    if (!problem || problem.startsWith('port ')) return true;
    opts.logger.warn({ tenantId: tenant.id, provider: plan.provider, address: flow.address, port: flow.port, problem }, 'provider address not allowed');
    return false;
  });
  if (allowed.length === 0) return { kind: 'failure', failure: { status: 403, reason: 'Destination not allowed' } };
  if (plan.maxDurationSeconds) {
    const cd = leg.options.callDurationLimitSeconds;
    // The policy's maximum applies to this leg whatever cd= the dialplan wrote (the leg was parsed for this Dial only).
    leg.options.callDurationLimitSeconds = cd && cd < plan.maxDurationSeconds ? cd : plan.maxDurationSeconds;
  }
  const to: NameAddr = { uri: plan.requestUri, params: {} };
  // Targets the health pings found down go last: a healthy one is tried first, a dead one only as a last resort.
  const isDown = (f: Endpoint) => plan.downTargets.has(targetKey(f));
  const ordered = [...allowed.filter((f) => !isDown(f)), ...allowed.filter(isDown)];
  const targets: BranchTarget[] = ordered.map((flow) => ({ requestUri: plan.requestUri, flow, label: `${plan.requestUri.user ?? ''}@${plan.provider}`, credentials: plan.credentials,
    provisionalTimeoutMs: plan.provisionalTimeoutMs || undefined,
  }));
  return { kind: 'branches', targets, to, inTurn: true, shape: (base) => shapeRequest(base, leg, plan) };
}

function shapeRequest(base: LegRequestShape, leg: DialLeg, plan: Extract<ProviderLegPlan, { kind: 'dial' }>): LegRequestShape {
  const o = leg.options;
  const fromUri: SipUri = {
    scheme: 'sip',
    user: o.fromUser ?? plan.fromUser ?? base.from.uri.user,
    host: plan.fromHost,
    params: {},
    headers: {},
  };
  const from: NameAddr = { displayName: base.from.displayName ?? plan.displayName, uri: fromUri, params: {} };
  const headers: Array<[string, string]> = [];
  if (plan.route) headers.push(['Route', plan.route]);
  headers.push(...base.headers, ...plan.headers);
  if (plan.assertIdentity) headers.push(['P-Asserted-Identity', formatNameAddr({ displayName: from.displayName, uri: fromUri, params: {} })]);
  if (plan.privacy) headers.push(['Privacy', plan.privacy]);
  return { from, headers };
}

function blocked(plan: Extract<ProviderLegPlan, { kind: 'blocked' }>, ctx: ProviderLegContext): void {
  const { opts, tenant } = ctx;
  const at = Date.now();
  const number = plan.e164 ?? plan.number;
  opts.logger.warn({ tenantId: tenant.id, callId: ctx.callId, provider: plan.provider, number, rule: plan.rule }, 'provider leg blocked by destination policy');
  if (ctx.callId) {
    opts.emit({
      type: 'dialplan.log', tenantId: tenant.id, callId: ctx.callId, at, level: 'error', dialplan: ctx.dialplanName ?? '',
      message: `call to ${number} via ${plan.provider} blocked: ${plan.rule}`,
    });
  }
  opts.emit({ type: 'call.blocked', tenantId: tenant.id, callId: ctx.callId ?? '', at, provider: plan.provider, number, rule: plan.rule });
}

/** The provider's server addresses in the order to try (RFC 3263 when a resolver is wired). */
async function locate(hop: SipUri, opts: CallServiceOptions): Promise<Endpoint[]> {
  const transport = uriTransport(hop);
  if (net.isIP(hop.host)) return [{ transport, address: hop.host, port: hop.port ?? sipPortFor(transport) }];
  if (opts.sipResolver && !opts.resolveHost) return opts.sipResolver.resolve(hop);
  const address = await (opts.resolveHost ?? defaultResolve)(hop.host);
  return [{ transport, address, port: hop.port ?? sipPortFor(transport) }];
}


async function defaultResolve(host: string): Promise<string> {
  return (await dns.lookup(host)).address;
}
