import { sendAck, type Dialog, type SipRequest, type SipResponse, type SipStack } from '../../sip/index.ts';

/**
 * The ACK of one re-INVITE's 2xx: sent once the TU has it, and the same bytes again for each
 * retransmission of that 2xx while the transaction is Accepted (RFC 6026 §7.2, RFC 3261 §13.2.2.4).
 * In a confirmed dialog a 2xx with another To tag cannot be (the request carried it); it is ignored.
 */
export class ReinviteAck {
  private ack: SipRequest | undefined;

  constructor(private readonly stack: SipStack, private readonly dialog: Dialog) {}

  send(ack: SipRequest): void {
    this.ack = ack;
    sendAck(this.stack, ack, this.dialog.flow);
  }

  resendFor(res: SipResponse): void {
    if (this.ack && res.to.params['tag'] === this.dialog.remoteTag) this.stack.sendStateless(this.ack, this.dialog.flow);
  }
}
