import dns from 'node:dns/promises';
import net from 'node:net';
import type { TenantRef } from '../../registrar/index.ts';
import type { Endpoint } from '../../sip/index.ts';
import type { NameAddr } from '../../sip/index.ts';
import { parseUri, uriTransport, type SipUri } from '../../sip/index.ts';
import type { BranchTarget } from '../legs/index.ts';
import type { CallAccount, CallServiceOptions, StoredDialplan } from '../call-service-deps.ts';
import type { DialLeg } from './dial-string.ts';
import type { LegFailure } from './forking.ts';
import { resolveProviderLeg, type LegRequestShape } from './provider-leg.ts';
import { DESTINATION_NOT_ALLOWED, LegDestinationPolicy, sipPortFor } from './leg-destination-policy.ts';

/** Nested local-account dialplans one call may run inside each other (DESIGN: loop guard). */
export const MAX_NESTED_DIALPLAN_DEPTH = 3;

export type ResolvedLeg =
  /** `account`: the local account whose bindings these are (its maxCalls applies); none for sip: URIs. */
  | {
      kind: 'branches'; targets: BranchTarget[]; to: NameAddr; account?: CallAccount;
      /** Provider legs: their From and headers as the provider wants them (provider-leg.ts). */
      shape?: (base: LegRequestShape) => LegRequestShape;
      /** The targets are one server's addresses (RFC 3263): try them in turn, not at once. */
      inTurn?: boolean;
    }
  | { kind: 'dialplan'; account: CallAccount; dialplanName: string; dialplan: StoredDialplan }
  | { kind: 'failure'; failure: LegFailure };

export interface LegResolveContext {
  opts: CallServiceOptions;
  tenant: TenantRef;
  /**
   * Accounts whose incoming dialplan already runs in this call's chain; undefined = never run
   * a dialplan for a local leg (callbacks ring bindings directly).
   */
  dialplanChain?: readonly string[];
  /** How many nested local-account dialplans are already running above this leg. */
  nestedDepth?: number;
  /** The call and the account placing it: provider legs count against their caps and log there. */
  callId?: string;
  accountId?: number;
  dialplanName?: string;
}

/**
 * Where one dial-string leg goes: a local account's incoming dialplan, every binding of a local
 * account, or a sip: URI's host. A local account's dialplan is skipped (bindings are rung) when
 * it already runs in this chain (a dialplan dialling its own account) or the depth limit is reached.
 */
export async function resolveLeg(leg: DialLeg, ctx: LegResolveContext): Promise<ResolvedLeg> {
  const { opts, tenant } = ctx;
  const t = leg.target;
  let localUser: string | undefined;
  if (t.kind === 'local') localUser = t.user;
  else if (t.kind === 'named' || t.kind === 'provider') {
    // user@name: the tenant's providers first, then its domains (DESIGN.md "Dial strings").
    const name = t.kind === 'named' ? t.host : t.provider;
    const provider = await resolveProviderLeg(leg, t.user, name, { ...ctx, networkPolicy: destinationPolicy(opts) });
    if (provider.kind !== 'unknown') return provider;
    const owner = t.kind === 'provider' ? undefined : t.host === tenant.domain ? tenant : await opts.accounts.tenantForDomain(t.host);
    if (owner && owner.id === tenant.id) localUser = t.user;
    else return { kind: 'failure', failure: { status: 404, reason: 'Provider not available' } };
  }
  if (localUser !== undefined) {
    const acct = await opts.accounts.find(localUser, tenant.domain);
    if (!acct) return { kind: 'failure', failure: { status: 404, reason: 'Not Found' } };
    if (acct.disabled) return { kind: 'failure', failure: { status: 403, reason: 'Account disabled' } };
    const chain = ctx.dialplanChain;
    if (acct.inDialplan && chain && !chain.includes(acct.username) && (ctx.nestedDepth ?? 0) < MAX_NESTED_DIALPLAN_DEPTH) {
      const stored = await opts.dialplans.get(tenant.id, acct.inDialplan);
      if (stored) return { kind: 'dialplan', account: acct, dialplanName: acct.inDialplan, dialplan: stored };
      opts.logger.warn({ tenantId: tenant.id, dialplan: acct.inDialplan }, 'incoming dialplan not found; ringing bindings');
    }
    // DND is checked where the phones would ring, after the account's own incoming dialplan had
    // its chance: that dialplan (or the caller's) sees 486 and takes its busy path.
    if (acct.dnd) return { kind: 'failure', failure: { status: 486, reason: 'Do Not Disturb' } };
    const bindings = opts.location.lookup(acct.username, tenant.domain);
    const targets: BranchTarget[] = [];
    for (const b of bindings) {
      try {
        targets.push({ requestUri: parseUri(b.requestUri), flow: b.target, label: b.requestUri });
      } catch {
        /* a binding with an unusable Contact is skipped */
      }
    }
    if (targets.length === 0) return { kind: 'failure', failure: { status: 480, reason: 'Not registered' } };
    return { kind: 'branches', account: acct, targets, to: { uri: { scheme: 'sip', user: acct.username, host: tenant.domain, params: {}, headers: {} }, params: {} } };
  }
  if (t.kind !== 'uri') return { kind: 'failure', failure: { status: 404, reason: 'Not Found' } };
  let uri: SipUri;
  try {
    uri = parseUri(t.uri);
  } catch {
    return { kind: 'failure', failure: { status: 416, reason: 'Unsupported URI' } };
  }
  const transport = uriTransport(uri);
  const host = uri.params['maddr'] ?? uri.host;
  let address: string;
  try {
    address = net.isIP(host) ? host : await (opts.resolveHost ?? defaultResolve)(host);
  } catch {
    return { kind: 'failure', failure: { status: 404, reason: `Host ${host} not found` } };
  }
  const flow: Endpoint = { transport, address, port: uri.port ?? sipPortFor(transport) };
  // Checked on the resolved address the request will actually go to, so a DNS name pointing
  // inside cannot slip past a check on the name.
  const problem = destinationPolicy(opts).problem(flow);
  if (problem) {
    opts.logger.warn({ tenantId: tenant.id, target: t.uri, address: flow.address, port: flow.port, transport, problem }, 'leg destination not allowed');
    return { kind: 'failure', failure: { status: 403, reason: DESTINATION_NOT_ALLOWED } };
  }
  const cleanUri: SipUri = { ...uri, headers: {} };
  return { kind: 'branches', targets: [{ requestUri: cleanUri, flow, label: t.uri }], to: { uri: cleanUri, params: {} } };
}

const policies = new WeakMap<CallServiceOptions, LegDestinationPolicy>();

function destinationPolicy(opts: CallServiceOptions): LegDestinationPolicy {
  let policy = policies.get(opts);
  if (!policy) {
    // The advertised public address reaches this switch too (through the NAT), on the same ports.
    const listeners = () => {
      const own = opts.stack?.listening() ?? [];
      return opts.publicAddress ? [...own, ...own.map((l) => ({ host: opts.publicAddress!, port: l.port }))] : own;
    };
    policy = new LegDestinationPolicy({ allowedNetworks: opts.allowedLegNetworks, listeners });
    policies.set(opts, policy);
  }
  return policy;
}


async function defaultResolve(host: string): Promise<string> {
  return (await dns.lookup(host)).address;
}
