import type { TenantRef } from '../../registrar/index.ts';
import { reasonHeader, type SipRequest, type SipUri } from '../../sip/index.ts';
import type { RunResult } from '../../../sandbox/index.ts';
import type { UacBranch } from '../legs/index.ts';
import type { BridgeableLeg } from '../legs/index.ts';
import type { CallAccount, CallServiceOptions, StoredDialplan } from '../call-service-deps.ts';
import { toDialplanRequest } from './dialplan-request.ts';
import { parseDialString, type DialLeg } from '../dial/index.ts';
import { startFork, type DialOutcome, type ForkExecution, type LegBudget, type LegFailure, type LegObserver, type LegOutcome } from '../dial/index.ts';
import type { LegSettings } from './leg-settings.ts';
import { RedirectReruns } from './redirect-reruns.ts';
import { SysFunctions, sandboxRedirect, type CallbackResult, type DialCallOptions, type DialplanScope, type SandboxDialResult, type SysFunctionDeps } from './sys-functions.ts';

/** How legs dialled by one dialplan execution are built. */
export interface LegScope {
  settings: LegSettings;
  /** SetCustomSIPHeader headers plus the Dial's own customHeaders. */
  headers: Array<[string, string]>;
  /** Accounts whose incoming dialplan runs in this chain (loop guard). */
  chain: readonly string[];
  /** Nested local-account dialplans above the legs of this scope. */
  depth: number;
  /**
   * INVITEs without SDP, ACK held back until the offer in the 2xx is answered (RFC 3725 flow I):
   * a transfer's new party gets the transferee's session only once it has answered.
   */
  lateOffer?: boolean;
}

/** What a nested run needs from the Call it belongs to. */
export interface LocalDialplanHost {
  readonly tenant: TenantRef;
  readonly callId: string;
  readonly opts: CallServiceOptions;
  /** The caller's INVITE. */
  readonly request: SipRequest;
  /** The call's leg budget: nested legs count against the same ≤ 20. */
  readonly budget: LegBudget;
  readonly sysDeps: SysFunctionDeps;
  startLeg(leg: DialLeg, observer: LegObserver, scope: LegScope): BridgeableLeg;
  callback(account: CallAccount, dest1: string, dest2: string): Promise<CallbackResult>;
  /** CDR: legs a nested Dial started, under the parent leg `parentKey`. */
  recordNested(parentKey: string, dialString: string, legs: LegOutcome[]): void;
}

/**
 * A `user@local` leg whose account has an incoming dialplan (DESIGN.md "Dial strings": "its
 * incoming dialplan or all its bindings"). The dialplan runs as a nested sandbox execution for
 * the same call; its `sys.Dial` legs become this leg's outcome: their 18x is this leg ringing,
 * their answer is this leg answering (the Call bridges the caller to that branch), and when the
 * script ends without an answer the leg fails with its last failure (or `sys.Respond`'s code).
 */
export class LocalDialplanLeg implements BridgeableLeg, DialplanScope {
  winner?: UacBranch;
  answeredOptions?: DialLeg['options'];
  readonly dialplanName: string;
  readonly settings: LegSettings;
  private fork?: ForkExecution<BridgeableLeg>;
  private over = false;
  private lastFailure?: LegFailure;
  private responded?: LegFailure;
  private readonly chain: readonly string[];
  private readonly reruns = new RedirectReruns();
  /** req.uri of the current run: the account, or a redirect target on an rm=n re-run. */
  private requestUri: SipUri;

  constructor(
    readonly leg: DialLeg,
    private readonly observer: LegObserver,
    private readonly host: LocalDialplanHost,
    readonly account: CallAccount,
    private readonly stored: StoredDialplan,
    dialplanName: string,
    private readonly parent: LegScope,
  ) {
    this.dialplanName = dialplanName;
    this.settings = parent.settings.copy();
    this.chain = [...parent.chain, account.username];
    this.requestUri = { scheme: 'sip', user: account.username, host: host.tenant.domain, params: {}, headers: {} };
  }

  get tenant(): TenantRef {
    return this.host.tenant;
  }

  get callId(): string {
    return this.host.callId;
  }

  start(): void {
    const sys = new SysFunctions(this, this.host.sysDeps);
    const tenant = this.host.tenant;
    const req = toDialplanRequest(this.host.request, {
      username: this.account.username, domain: tenant.domain, direction: 'in', requestUri: this.requestUri,
    });
    this.host.opts.sandbox
      .run({
        tenantId: String(tenant.id), callId: this.callId, dialplanName: this.dialplanName, js: this.stored.js, sourceMap: this.stored.sourceMap, req,
        // No per-source cap here: the call already passed the switch's admission, and an office
        // behind one NAT address places many internal calls at once.
        direction: 'in',
      },
        { call: (name, args) => sys.call(name, args) })
      .catch((err: unknown): RunResult => ({ status: 'failed', code: 500, reason: (err as Error).message }))
      .then((result) => this.finished(result));
  }

  cancel(): void {
    this.over = true;
    this.fork?.cancel();
  }

  async dial(dialString: string, options: DialCallOptions): Promise<SandboxDialResult> {
    if (this.winner) throw new Error('Dial: the call is already answered');
    if (this.over) return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
    const r = this.host.request;
    let plan;
    try {
      plan = parseDialString(dialString, { dst: this.requestUri.user ?? this.account.username, fromName: r.from.displayName ?? '', fromUriUser: r.from.uri.user ?? '' });
    } catch (err) {
      throw new Error(`Dial: ${(err as Error).message}`);
    }
    const scope: LegScope = {
      settings: this.settings, headers: options.customHeaders, chain: this.chain, depth: this.parent.depth + 1, lateOffer: this.parent.lateOffer,
    };
    const fork = startFork<BridgeableLeg>({
      plan,
      ringTimeoutSeconds: options.ringTimeout,
      legBudget: this.host.budget,
      ownDomains: [this.tenant.domain],
      starter: { start: (leg, observer) => this.host.startLeg(leg, observer, scope) },
      observer: {
        legRinging: () => this.observer.ringing(),
        legProgress: (_o, sdp) => this.observer.progress(sdp),
      },
    });
    this.fork = fork;
    const result = await fork.result;
    this.fork = undefined;
    this.host.recordNested(this.leg.key, dialString, result.legs);
    this.reruns.dialEnded(result);
    if (result.answered && result.winner) {
      const branch = result.winner.handle.winner;
      if (!branch || this.over) {
        branch?.bye([reasonHeader(487, 'Caller gone')]);
        return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
      }
      this.winner = branch;
      this.answeredOptions = nestedOptions(this.leg.options, result.winner.handle.answeredOptions ?? result.winner.handle.leg.options);
      this.over = true;
      this.observer.answered({ sdp: result.winner.answer.sdp });
      return { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
    }
    this.lastFailure = { status: result.status, reason: result.reason };
    return { answered: false, status: result.status, reason: result.reason, outcome: outcomeName(result.outcome, result.status), ...sandboxRedirect(result) };
  }

  respond(code: number, reason: string): void {
    if (this.over) return;
    this.responded = { status: code, reason: reason || 'Rejected by dialplan' };
    this.over = true;
    this.fork?.cancel();
    this.observer.failed(this.responded);
  }

  callback(dest1: string, dest2: string): Promise<CallbackResult> {
    return this.host.callback(this.account, dest1, dest2);
  }

  private finished(result: RunResult): void {
    if (result.status === 'failed') {
      this.host.opts.emit({
        type: 'dialplan.log', tenantId: this.tenant.id, callId: this.callId, at: Date.now(), level: 'error',
        dialplan: this.dialplanName, message: result.reason, line: result.line, column: result.column,
      });
    }
    if (this.over) return;
    const rerun = result.status === 'failed' ? undefined : this.reruns.next();
    if (rerun) {
      this.requestUri = rerun.uri;
      this.lastFailure = undefined;
      this.host.opts.logger.info({ callId: this.callId, dialplan: this.dialplanName, target: rerun.target, rerun: this.reruns.count }, 'nested dialplan re-run for a redirect');
      this.start();
      return;
    }
    this.over = true;
    const failure = result.status === 'failed'
      ? { status: result.code, reason: result.code === 503 ? 'Service Unavailable' : 'Dialplan failed' }
      : (this.lastFailure ?? { status: 480, reason: 'Temporarily Unavailable' });
    this.observer.failed(failure);
  }
}

function outcomeName(outcome: DialOutcome, status: number): string {
  if (outcome === 'timeout') return 'no-answer';
  if (outcome === 'failed' && (status === 486 || status === 600)) return 'busy';
  return outcome;
}

/**
 * The options of a call answered through a nested dialplan: the outer leg's, with the inner
 * leg's `ma=false` and a shorter `cd` also applying (either dialplan may ask for them). The
 * transfer policy stays the outer leg's: the dialplan that placed the call decides what a REFER
 * on it may make the switch dial.
 */
export function nestedOptions(outer: DialLeg['options'], inner: DialLeg['options']): DialLeg['options'] {
  const limits = [outer.callDurationLimitSeconds, inner.callDurationLimitSeconds].filter((n): n is number => n !== undefined && n > 0);
  return {
    ...outer,
    mangleSdp: outer.mangleSdp && inner.mangleSdp,
    callDurationLimitSeconds: limits.length ? Math.min(...limits) : outer.callDurationLimitSeconds,
  };
}
