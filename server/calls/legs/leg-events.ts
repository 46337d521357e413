import { createResponse, type Dialog, type ServerTransaction, type SipRequest } from '../../sip/index.ts';

/** Why a leg ended: its dialog's BYE went out or came in, or the INVITE never made a dialog. */
export type LegEndReason = 'bye-sent' | 'bye-received' | 'failed' | 'cancelled';

/**
 * What a leg tells its owner (the bridge of its call) about its dialog. Each request comes with its
 * server transaction, which the owner answers; the leg has already checked it belongs in the dialog.
 */
export interface LegOwner {
  /** The ACK of a 2xx the owner sent in this dialog (a relayed re-INVITE's). */
  ack(req: SipRequest): void;
  refer(req: SipRequest, tx: ServerTransaction): void;
  /** A re-INVITE or an UPDATE: a new offer, or (an offerless re-INVITE) a request for one. */
  reinvite(req: SipRequest, tx: ServerTransaction): void;
  /** The party hung up: the dialog is over already, the owner answers and ends the rest. */
  bye(req: SipRequest, tx: ServerTransaction): void;
  /** INFO, OPTIONS, MESSAGE or NOTIFY: for the owner to relay. */
  request(req: SipRequest, tx: ServerTransaction): void;
  /** Once, when the leg ended. */
  terminated?(reason: LegEndReason): void;
}

/** A leg with a confirmed dialog, as its owner sees it: requests of its dialog arrive here and are reported to the owner. */
export interface DialogLeg {
  readonly dialog: Dialog;
  /** The SDP the party last got from us when it joined its owner (offer or answer). */
  readonly sentSdp?: Buffer;
  /** The party is on hold (the switchboard's or the other phone's hold, control/call-hold.ts). */
  held: boolean;
  /** Ends the dialog with BYE (a UAC leg also releases an ACK it held back). */
  bye(headers?: Array<[string, string]>): void;
  /** The call is done with the leg without ending its dialog (it ended, or handed the leg to another call): its timers stop. */
  release(): void;
  /** A request inside the leg's dialog (the CallService matched its dialog id). */
  receive(req: SipRequest, tx: ServerTransaction | undefined): void;
  /** `owner` hears the leg's events from now on (a transfer moves a leg to another owner). */
  attach(owner: LegOwner): void;
  /** `owner` hears no more, unless another owner took the leg meanwhile. */
  detach(owner: LegOwner): void;
}

const ALLOW = 'INVITE, ACK, BYE, CANCEL, UPDATE, INFO, OPTIONS, REFER, NOTIFY, MESSAGE';

/**
 * Sorts one request of a confirmed dialog for the leg's owner (RFC 3261 §12.2.2): out-of-order
 * CSeq 500, no owner 481, unknown methods 405. A BYE ends the dialog first (a hangup
 * after it sends no BYE there), then the owner hears it, then `remoteBye` ends the leg (and reports its termination).
 */
export function sortInDialog(dialog: Dialog, owner: LegOwner | undefined, req: SipRequest, tx: ServerTransaction | undefined, remoteBye: () => void): void {
  if (req.method === 'ACK') {
    owner?.ack(req);
    return;
  }
  if (!tx) return;
  if (!owner) {
    tx.respond(createResponse(req, 481));
    return;
  }
  if (!dialog.acceptRemoteCSeq(req)) {
    tx.respond(createResponse(req, 500, 'CSeq out of order'));
    return;
  }
  switch (req.method) {
    case 'BYE':
      dialog.terminated = true;
      owner.bye(req, tx);
      remoteBye();
      return;
    case 'REFER':
      owner.refer(req, tx);
      return;
    case 'INVITE':
    case 'UPDATE':
      owner.reinvite(req, tx);
      return;
    case 'INFO':
    case 'OPTIONS':
    case 'MESSAGE':
    case 'NOTIFY':
      owner.request(req, tx);
      return;
    default:
      tx.respond(createResponse(req, 405, undefined, { headers: { Allow: ALLOW } }));
  }
}
