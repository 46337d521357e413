import type { TenantRef } from '../../registrar/index.ts';
import type { DialplanRequest, RunResult } from '../../../sandbox/index.ts';
import type { CallAccount, CallServiceOptions, StoredDialplan } from '../call-service-deps.ts';
import { parseDialString, type DialPlan, type DialResult } from '../dial/index.ts';
import {
  SysFunctions, type CallbackResult, type DialCallOptions, type DialplanScope, type LegScope, type LegSettings,
  type SandboxDialResult, type SysFunctionDeps,
} from '../dialplan/index.ts';
import type { BridgeableLeg, UacBranch } from '../legs/index.ts';
import type { ReferTarget } from './refer-to.ts';

/** The tenant dialplan that decides accepted (`tr=c`) transfers (DESIGN.md "Transfer policy"). */
export const TRANSFER_DIALPLAN = 'transfer';

/** What a transfer's dialplan run needs from the call being transferred. */
export interface TransferHost {
  readonly tenant: TenantRef;
  readonly callId: string;
  readonly account: CallAccount;
  readonly opts: CallServiceOptions;
  readonly sysDeps: SysFunctionDeps;
  readonly settings: LegSettings;
  forkLegs(
    plan: DialPlan, dialString: string, options: Pick<DialCallOptions, 'ringTimeout'>, scope: LegScope,
    ringing: (legId: number, target: string, sdp: string | undefined) => void,
  ): Promise<{ result: DialResult<BridgeableLeg>; legOffset: number }>;
  callback(dest1: string, dest2: string): Promise<CallbackResult>;
  /** A leg of the new call rings: the referrer hears of it as sipfrag 180. */
  ringing(): void;
}

/** How the transfer dialplan ended: an answered new party (its 2xx holds the offer), or a final status for the referrer. */
export type TransferOutcome =
  | { answered: true; branch: UacBranch; legId: number; mangleSdp: boolean }
  | { answered: false; status: number; reason: string };

/**
 * One run of the tenant's `transfer` dialplan for a REFER: `req.uri` is the Refer-To target, and
 * its `sys.Dial` legs are placed with a late offer (the transferee's session is offered to the new
 * party only once it answered). The outcome settles at the first answer — the new party waits for
 * its ACK — or when the script ends, refuses (`sys.Respond`) or fails.
 */
export class TransferDialplanRun implements DialplanScope {
  readonly dialplanName = TRANSFER_DIALPLAN;
  readonly settings: LegSettings;
  private settled = false;
  private resolveOutcome!: (o: TransferOutcome) => void;
  private readonly outcome = new Promise<TransferOutcome>((resolve) => { this.resolveOutcome = resolve; });
  private lastFailure?: { status: number; reason: string };

  constructor(private readonly host: TransferHost, private readonly target: ReferTarget) {
    this.settings = host.settings.copy();
  }

  get tenant(): TenantRef {
    return this.host.tenant;
  }

  get callId(): string {
    return this.host.callId;
  }

  get account(): CallAccount {
    return this.host.account;
  }

  run(stored: StoredDialplan, req: DialplanRequest): Promise<TransferOutcome> {
    const sys = new SysFunctions(this, this.host.sysDeps);
    const opts = this.host.opts;
    opts.sandbox
      .run({ tenantId: String(this.tenant.id), callId: this.callId, dialplanName: this.dialplanName, js: stored.js, sourceMap: stored.sourceMap, req, direction: 'out' },
        { call: (name, args) => sys.call(name, args) })
      .catch((err: unknown): RunResult => ({ status: 'failed', code: 500, reason: (err as Error).message }))
      .then((result) => {
        if (result.status === 'failed') {
          opts.emit({
            type: 'dialplan.log', tenantId: this.tenant.id, callId: this.callId, at: Date.now(), level: 'error',
            dialplan: this.dialplanName, message: result.reason, line: result.line, column: result.column,
          });
          this.settle({ answered: false, status: result.code, reason: result.code === 503 ? 'Service Unavailable' : 'Transfer dialplan failed' });
          return;
        }
        this.settle({ answered: false, ...(this.lastFailure ?? { status: 480, reason: 'Temporarily Unavailable' }) });
      });
    return this.outcome;
  }

  async dial(dialString: string, options: DialCallOptions): Promise<SandboxDialResult> {
    if (this.settled) throw new Error('Dial: the transfer is already answered or over');
    let plan: DialPlan;
    try {
      plan = parseDialString(dialString, { dst: this.target.uri.user ?? '', fromName: '', fromUriUser: this.account.username });
    } catch (err) {
      throw new Error(`Dial: ${(err as Error).message}`);
    }
    const scope: LegScope = { settings: this.settings, headers: options.customHeaders, chain: [], depth: 0, lateOffer: true };
    const { result, legOffset } = await this.host.forkLegs(plan, dialString, options, scope, () => this.host.ringing());
    const branch = result.winner?.handle.winner;
    if (result.answered && result.winner && branch?.dialog) {
      if (this.settled) {
        branch.bye();
        return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
      }
      this.settle({ answered: true, branch, legId: result.winner.outcome.id + legOffset, mangleSdp: result.winner.handle.leg.options.mangleSdp });
      return { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
    }
    this.lastFailure = { status: result.status, reason: result.reason };
    return { answered: false, status: result.status, reason: result.reason, outcome: result.outcome === 'timeout' ? 'no-answer' : result.outcome };
  }

  respond(code: number, reason: string): void {
    this.settle({ answered: false, status: code, reason: reason || 'Transfer refused' });
  }

  callback(dest1: string, dest2: string): Promise<CallbackResult> {
    return this.host.callback(dest1, dest2);
  }

  private settle(o: TransferOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveOutcome(o);
  }
}
