import { reasonHeader, type SipResponse } from '../../sip/index.ts';
import { isBetterFailure, type DialLeg, type LegFailure, type LegHandle, type LegObserver } from '../dial/index.ts';
import { UacBranch, type BranchContext, type BranchRequest, type BranchTarget } from './uac-branch.ts';

const SETTLED: LegObserver = { ringing() {}, progress() {}, answered() {}, failed() {} };

/**
 * The LegHandle of one dial-string leg. A `user@local` leg rings every binding of the account at
 * once (one branch each); the first branch to answer wins the leg and the others are cancelled.
 */
export class OutboundLeg implements LegHandle {
  branches: UacBranch[] = [];
  winner?: UacBranch;
  private failedCount = 0;
  private best?: LegFailure;
  private cancelled = false;
  private ringingSent = false;
  /** RFC 3263 §4.3: the targets still to try, one after the other, when one does not answer. */
  private inTurn?: { ctx: BranchContext; targets: BranchTarget[]; request: BranchRequest };

  constructor(
    readonly leg: DialLeg,
    private observer: LegObserver,
    private readonly hooks: { earlyMedia(branch: UacBranch, res: SipResponse): string | undefined },
  ) {}

  addBranch(ctx: BranchContext, target: BranchTarget): UacBranch {
    const b = new UacBranch(ctx, target, {
      provisional: (branch, res) => this.onProvisional(branch, res),
      answered: (branch, res) => this.onAnswered(branch, res),
      failed: (branch, failure) => this.onFailed(failure),
    });
    this.branches.push(b);
    return b;
  }

  /** Tries `targets` in order: the next one only when the previous timed out, failed to send or answered 503. */
  startInTurn(ctx: BranchContext, targets: BranchTarget[], request: BranchRequest): void {
    const [first, ...rest] = targets;
    if (!first) return;
    this.inTurn = { ctx, targets: rest, request };
    this.addBranch(ctx, first).start(request);
  }

  cancel(): void {
    this.cancelled = true;
    for (const b of this.branches) if (b !== this.winner) b.cancel();
  }

  private onProvisional(branch: UacBranch, res: SipResponse): void {
    if (res.status === 100 || this.cancelled || this.winner) return;
    const sdp = res.body.length ? this.hooks.earlyMedia(branch, res) : undefined;
    if (sdp !== undefined) this.observer.progress(sdp);
    else if (!this.ringingSent) {
      this.ringingSent = true;
      this.observer.ringing();
    }
  }

  private onAnswered(branch: UacBranch, res: SipResponse): void {
    if (this.winner || this.cancelled) {
      branch.bye([reasonHeader(200, 'Call completed elsewhere')]);
      return;
    }
    this.winner = branch;
    for (const b of this.branches) if (b !== branch) b.cancel();
    const observer = this.observer;
    // The answered leg lives as long as the call: it must not keep the Dial's fork (its legs,
    // outcomes, timers) or the losing branches alive with it. Nothing reaches the observer now.
    this.observer = SETTLED;
    this.branches = [branch];
    this.inTurn = undefined;
    observer.answered({ sdp: res.body.length ? res.body.toString('utf8') : undefined });
  }

  private onFailed(failure: LegFailure): void {
    this.failedCount++;
    if (isBetterFailure(failure.status, this.best?.status)) this.best = failure;
    const next = this.inTurn?.targets.shift();
    if (next && this.inTurn && !this.cancelled && !this.winner && (failure.status === 408 || failure.status === 503)) {
      this.addBranch(this.inTurn.ctx, next).start(this.inTurn.request);
      return;
    }
    if (this.failedCount === this.branches.length && !this.winner) this.observer.failed(this.best!);
  }
}
