import { reasonHeader, type SipResponse } from '../../sip/index.ts';
import { isBetterFailure, type DialLeg, type LegFailure, type LegHandle, type LegObserver } from '../dial/index.ts';
import { UacBranch, type BranchContext, type BranchTarget } from './uac-branch.ts';

/**
 * The LegHandle of one dial-string leg. A `user@local` leg rings every binding of the account at
 * once (one branch each); the first branch to answer wins the leg and the others are cancelled.
 */
export class OutboundLeg implements LegHandle {
  readonly branches: UacBranch[] = [];
  winner?: UacBranch;
  private failedCount = 0;
  private best?: LegFailure;
  private cancelled = false;
  private ringingSent = false;

  constructor(
    readonly leg: DialLeg,
    private readonly observer: LegObserver,
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
    this.observer.answered({ sdp: res.body.length ? res.body.toString('utf8') : undefined });
  }

  private onFailed(failure: LegFailure): void {
    this.failedCount++;
    if (isBetterFailure(failure.status, this.best?.status)) this.best = failure;
    if (this.failedCount === this.branches.length && !this.winner) this.observer.failed(this.best!);
  }
}
