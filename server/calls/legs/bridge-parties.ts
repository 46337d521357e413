import type { DialogLeg } from './leg-events.ts';
import type { UacBranch } from './uac-branch.ts';

/** An answered UAC branch as a bridge party (the branch itself forgets the ACK of a dialog the far end hung up). */
export function uacParty(branch: UacBranch): DialogLeg {
  const dialog = branch.dialog!;
  return {
    dialog,
    sentSdp: branch.sentSdp,
    held: false,
    bye: (headers = []) => branch.bye(headers),
    // Nothing of ours is resent in a UAC dialog: retransmitted 2xx are ACKed while the dialog lives.
    release: () => {},
    receive: (req, tx) => branch.receive(req, tx),
    attach: (owner) => branch.attach(owner),
    detach: (owner) => branch.detach(owner),
  };
}
