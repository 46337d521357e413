import type { Logger } from 'pino';
import { reasonHeader, type SipUri } from '../../sip/index.ts';
import type { RunResult } from '../../../sandbox/index.ts';
import type { StoredDialplan } from '../call-service-deps.ts';
import { parseDialString, type DialOutcome, type DialPlan, type DialResult } from '../dial/index.ts';
import type { BridgeableLeg, UacBranch } from '../legs/index.ts';
import type { CallIdentity, CallLegs } from './call-legs.ts';
import { toDialplanRequest } from './dialplan-request.ts';
import type { LegSettings } from './leg-settings.ts';
import type { LegScope } from './local-dialplan-leg.ts';
import { RedirectReruns } from './redirect-reruns.ts';
import {
  SysFunctions, sandboxRedirect, type CallbackResult, type DialCallOptions, type DialplanScope, type SandboxDialResult, type SysFunctionDeps,
} from './sys-functions.ts';

/** What the run of a call's dialplan needs of the call (the Call implements it). */
export interface CallDialplanHost extends CallIdentity {
  readonly log: Logger;
  /** A call from a provider: `req.provider` and `req.did` of the dialplan. */
  readonly inbound?: { provider: string; did?: string };
  readonly settings: LegSettings;
  readonly sysDeps: SysFunctionDeps;
  readonly legs: CallLegs;
  /** Still dialing: no final answer sent to the caller yet. */
  readonly dialing: boolean;
  /** The caller sent CANCEL. */
  readonly cancelled: boolean;
  /** A leg rang (CDR leg id), with early media when `sdp` is given. */
  ringing(legId: number, target: string, sdp: string | undefined): void;
  /** How a Dial went when a pickup took the call while it rang. */
  pickedUp(result: DialResult<BridgeableLeg>): Promise<SandboxDialResult> | SandboxDialResult | undefined;
  /** The caller is answered and bridged to `branch`. */
  bridgeTo(leg: BridgeableLeg, branch: UacBranch, legId: number, dialLimit?: number): void;
  /** Accounts admitted for a side that never took it go. */
  dropUnseated(): void;
  /** The caller gets a final failure and the call ends. */
  finishUnanswered(status: number, reason?: string, outcome?: DialOutcome, headers?: Record<string, string>): void;
  callback(dest1: string, dest2: string): Promise<CallbackResult>;
}

/**
 * The caller's side of a call's dialplan: one sandbox run (and its rm=n re-runs with req.uri set
 * to a redirect target), the Dials it makes, and what the caller gets when the script ends
 * without an answer. No dialplan: the callee account's bindings are rung the same way.
 */
export class CallDialplan {
  private readonly sys: SysFunctions;
  private lastFailure?: { status: number; reason: string; outcome: DialOutcome };
  private readonly reruns = new RedirectReruns();
  /** req.uri of the current dialplan run: the Request-URI, or a redirect target on a re-run. */
  private dialplanUri?: SipUri;

  constructor(private readonly host: CallDialplanHost) {
    const scope: DialplanScope = {
      tenant: host.tenant, callId: host.callId, account: host.account, dialplanName: host.dialplanName ?? '', settings: host.settings,
      dial: (dialString, options) => this.dial(dialString, options),
      // sys.Respond: the caller gets this final answer, the call ends.
      respond: (code, reason, headers) => host.finishUnanswered(code, reason || undefined, 'failed', headers),
      callback: (dest1, dest2) => host.callback(dest1, dest2),
    };
    this.sys = new SysFunctions(scope, host.sysDeps);
  }

  async run(stored: StoredDialplan): Promise<void> {
    const host = this.host;
    const req = host.request;
    const direction = host.direction === 'inbound' ? 'in' : 'out';
    const dialplanName = host.dialplanName ?? '';
    let result: RunResult;
    try {
      result = await host.opts.sandbox.run(
        {
          tenantId: String(host.tenant.id), callId: host.callId, dialplanName,
          js: stored.js, sourceMap: stored.sourceMap,
          // Separate sandbox budgets per direction, and inbound ones per source, so callers from
          // outside can never use up what a tenant's own phones need to call out.
          direction,
          source: host.direction === 'inbound' ? req.source?.address : undefined,
          req: toDialplanRequest(req, {
            username: host.account.username, domain: host.tenant.domain, direction, requestUri: this.dialplanUri,
            provider: host.inbound?.provider, did: host.inbound?.did,
          }),
        },
        { call: (name, args) => this.sys.call(name, args) },
      );
    } catch (err) {
      result = { status: 'failed', code: 500, reason: (err as Error).message };
    }
    if (result.status === 'failed') {
      host.opts.emit({
        type: 'dialplan.log', tenantId: host.tenant.id, callId: host.callId, at: Date.now(), level: 'error',
        dialplan: dialplanName, message: result.reason, line: result.line, column: result.column,
      });
      // The run can fail while a sys.Dial is still ringing (sandbox child died, wall-clock limit):
      // nobody will await that Dial any more, so its legs must be cancelled, not left ringing.
      host.legs.cancel();
      host.finishUnanswered(
        result.code, result.code === 503 ? 'Service Unavailable' : 'Dialplan failed', 'failed',
        result.retryAfter !== undefined ? { 'Retry-After': String(result.retryAfter) } : {},
      );
      return;
    }
    if (await this.rerunForRedirect(stored)) return;
    // SIPSorcery's rule when the script ends without an answer: the last failure, else 480.
    if (this.lastFailure) host.finishUnanswered(this.lastFailure.status, this.lastFailure.reason, this.lastFailure.outcome);
    else host.finishUnanswered(480, 'Temporarily Unavailable');
  }

  /** No incoming dialplan: ring every binding of the callee account. */
  async ringAccount(): Promise<void> {
    const r = await this.dial(`${this.host.account.username}@local`, { customHeaders: [] });
    if (!r.answered) this.host.finishUnanswered(r.status, r.reason, this.lastFailure?.outcome);
  }

  /** sys.Dial of the caller's dialplan: the first answer is bridged to the caller. */
  async dial(dialString: string, options: DialCallOptions): Promise<SandboxDialResult> {
    const host = this.host;
    const req = host.request;
    if (!host.dialing) throw new Error('Dial: the call is already answered or over');
    if (host.cancelled) return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
    let plan: DialPlan;
    try {
      plan = parseDialString(dialString, {
        dst: (this.dialplanUri ?? req.uri).user ?? '',
        fromName: req.from.displayName ?? '',
        fromUriUser: req.from.uri.user ?? '',
      });
    } catch (err) {
      throw new Error(`Dial: ${(err as Error).message}`);
    }
    // The incoming dialplan of this call's own account already runs: dialling it rings bindings.
    const chain = host.direction === 'inbound' && host.dialplanName ? [host.account.username] : [];
    const scope: LegScope = { settings: host.settings, headers: options.customHeaders, chain, depth: 0 };
    const { result, legOffset } = await host.legs.forkLegs(plan, dialString, options, scope, (legId, target, sdp) => host.ringing(legId, target, sdp));
    // A pickup took the call while this Dial rang: the script hears how that went.
    const pickedUp = host.pickedUp(result);
    if (pickedUp) return pickedUp;
    if (result.answered && result.winner) {
      const winner = result.winner.handle;
      const branch = winner.winner;
      if (!branch || !branch.dialog || host.cancelled || !host.dialing) {
        branch?.bye([reasonHeader(487, 'Caller gone')]);
        host.dropUnseated();
        return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
      }
      host.bridgeTo(winner, branch, result.winner.outcome.id + legOffset, options.callDurationLimit);
      this.lastFailure = undefined;
      this.reruns.dialEnded(result);
      return { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
    }
    this.lastFailure = { status: result.status, reason: result.reason, outcome: result.outcome };
    this.reruns.dialEnded(result);
    return { answered: false, status: result.status, reason: result.reason, outcome: sandboxOutcome(result), ...sandboxRedirect(result) };
  }

  /**
   * rm=n, and a 3xx not followed by default: the dialplan that ran is run again with req.uri set
   * to the redirect target, when its last Dial ended that way and nothing answered the caller.
   */
  private async rerunForRedirect(stored: StoredDialplan): Promise<boolean> {
    if (!this.host.dialing || this.host.cancelled) return false;
    const rerun = this.reruns.next();
    if (!rerun) return false;
    this.dialplanUri = rerun.uri;
    this.lastFailure = undefined;
    this.host.log.info({ target: rerun.target, rerun: this.reruns.count }, 'dialplan re-run for a redirect');
    await this.run(stored);
    return true;
  }
}

/** A Dial result as the script sees it (`busy`, `no-answer`, ...). */
export function sandboxOutcome(r: { outcome: DialOutcome; status: number }): string {
  if (r.outcome === 'timeout') return 'no-answer';
  if (r.outcome === 'failed' && (r.status === 486 || r.status === 600)) return 'busy';
  return r.outcome;
}
