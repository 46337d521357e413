import { createResponse, type Dialog, type ServerTransaction, type SipRequest } from '../../sip/index.ts';

/**
 * The checks every B2BUA call runs before relaying an in-dialog request: without an answered call
 * whose two dialogs both exist it answers 481; a CSeq lower than the last one it answers 500
 * (RFC 3261 §12.2.2). Returns the two dialogs when the request may go on, after answering otherwise.
 */
export function admitInDialog(
  req: SipRequest, tx: ServerTransaction, own: Dialog | undefined, other: Dialog | undefined, answered: boolean,
): { own: Dialog; other: Dialog } | undefined {
  if (!own || !other || !answered) {
    tx.respond(createResponse(req, 481));
    return undefined;
  }
  if (!own.acceptRemoteCSeq(req)) {
    tx.respond(createResponse(req, 500, 'CSeq out of order'));
    return undefined;
  }
  return { own, other };
}
