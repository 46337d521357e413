import { reasonHeader, type Dialog, type SipStack } from '../../sip/index.ts';
import type { BridgeParty } from '../bridge/index.ts';
import type { BranchContext, UacBranch } from './uac-branch.ts';

/** Our UAS dialog with a caller, as a bridge party: BYE goes out in that dialog. */
export function uasParty(dialog: Dialog, stack: SipStack, sentSdp?: Buffer): BridgeParty {
  return {
    dialog,
    sentSdp,
    bye(headers = []) {
      if (dialog.terminated) return;
      dialog.terminated = true;
      stack.sendRequest(dialog.createRequest('BYE', { headers }), { target: dialog.flow });
    },
  };
}

/** An answered UAC branch as a bridge party. */
export function uacParty(branch: UacBranch, ctx: Pick<BranchContext, 'forgetAck'>): BridgeParty {
  const dialog = branch.dialog!;
  return {
    dialog,
    sentSdp: branch.sentSdp,
    bye: (headers = []) => branch.bye(headers),
    // The far end hung up: retransmitted 2xx of a finished dialog need no ACK from us any more.
    remoteEnded: () => ctx.forgetAck(dialog.callId),
  };
}
