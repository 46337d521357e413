import type { Dialog, ServerTransaction, SipRequest } from '../../sip/index.ts';
import type { DialogLeg, LegOwner } from './leg-events.ts';
import type { UacBranch } from './uac-branch.ts';

/** An answered UAC branch as a bridge party (the branch itself forgets the ACK of a dialog the far end hung up). */
class UacParty implements DialogLeg {
  readonly dialog: Dialog;
  readonly sentSdp?: Buffer;
  held = false;

  constructor(private readonly branch: UacBranch) {
    this.dialog = branch.dialog!;
    this.sentSdp = branch.sentSdp;
  }

  bye(headers: Array<[string, string]> = []): void {
    this.branch.bye(headers);
  }

  /** Nothing of ours is resent in a UAC dialog: retransmitted 2xx are ACKed while the dialog lives. */
  release(): void {}

  receive(req: SipRequest, tx: ServerTransaction | undefined): void {
    this.branch.receive(req, tx);
  }

  attach(owner: LegOwner): void {
    this.branch.attach(owner);
  }

  detach(owner: LegOwner): void {
    this.branch.detach(owner);
  }
}

export function uacParty(branch: UacBranch): DialogLeg {
  return new UacParty(branch);
}
