import type { Dialog, SipStack } from '../../sip/index.ts';
import type { DialogLeg } from './leg-events.ts';
import type { UacBranch } from './uac-branch.ts';
import { UasLeg } from './uas-leg.ts';

/** Our UAS dialog with a phone that called in, as a bridge party: BYE goes out in that dialog. */
export function uasParty(dialog: Dialog, stack: SipStack, sentSdp?: Buffer): DialogLeg {
  return new UasLeg(dialog, stack, sentSdp);
}

/** An answered UAC branch as a bridge party (the branch itself forgets the ACK of a dialog the far end hung up). */
export function uacParty(branch: UacBranch): DialogLeg {
  const dialog = branch.dialog!;
  return {
    dialog,
    sentSdp: branch.sentSdp,
    bye: (headers = []) => branch.bye(headers),
    receive: (req, tx) => branch.receive(req, tx),
    attach: (owner) => branch.attach(owner),
    detach: (owner) => branch.detach(owner),
  };
}
