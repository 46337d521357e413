import type { UacBranch } from './uac-branch.ts';
import type { DialLeg } from '../dial/index.ts';
import type { LegHandle } from '../dial/index.ts';

/** A started dial-string leg the Call can bridge once the fork says it answered. */
export interface BridgeableLeg extends LegHandle {
  readonly leg: DialLeg;
  /** The answered SIP branch (the dialog the caller gets bridged to). */
  readonly winner?: UacBranch;
  /**
   * The options the bridge must honour when they differ from `leg.options`: a local account's
   * dialplan answered through its own Dial, whose leg's `ma`/`cd` apply as well.
   */
  readonly answeredOptions?: DialLeg['options'];
}

/**
 * The handle a fork gets at once while the leg is still being resolved (account lookup, DNS,
 * loading a dialplan). A cancel before resolution means the real leg is never started.
 */
export class DeferredLeg implements BridgeableLeg {
  cancelled = false;
  private inner?: BridgeableLeg;

  constructor(readonly leg: DialLeg) {}

  get winner(): UacBranch | undefined {
    return this.inner?.winner;
  }

  get answeredOptions(): DialLeg['options'] | undefined {
    return this.inner?.answeredOptions;
  }

  attach(inner: BridgeableLeg): void {
    this.inner = inner;
  }

  cancel(): void {
    this.cancelled = true;
    this.inner?.cancel();
  }
}
