import type { Logger } from 'pino';
import { Dialog } from './dialog.ts';
import { sendAck } from './dialog-ack.ts';
import type { Endpoint, SipRequest, SipResponse } from './message.ts';
import { reasonHeader } from './reason-header.ts';
import type { SipStack } from './sip-stack.ts';

/** What a further 2xx to our INVITE turned out to be. */
export type Further2xx = 'retransmission' | 'fork' | 'unanswered';

export interface InviteAnswersOptions {
  stack: SipStack;
  /** Where the INVITE went: the 2xx of every fork came back through it, their ACK and BYE go there. */
  flow: Endpoint;
  logger: Logger;
}

/**
 * The 2xx answers one initial INVITE of ours gets while its client transaction is Accepted
 * (RFC 6026 §7.2): the first makes the dialog the TU keeps; a retransmission of it means our ACK
 * got lost, so the same ACK goes again (RFC 3261 §13.2.2.4); a 2xx with another To tag is a second
 * fork's dialog, which a B2BUA does not keep — it is ACKed (every 2xx must be, §13.2.2.4) and at
 * once ended with BYE. The TU tells it which 2xx it took (`answered`) and which ACK it sent.
 */
export class InviteAnswers {
  private answeredTag: string | undefined;
  private answeredAck: SipRequest | undefined;
  /** Second-fork dialogs already ended, by To tag: their retransmitted 2xx only get the ACK again. */
  private readonly forks = new Map<string, SipRequest>();

  constructor(private readonly invite: SipRequest, private readonly opts: InviteAnswersOptions) {}

  /** The TU took `res` as the dialog's 2xx (its ACK may follow later, see `acked`). */
  answered(res: SipResponse, ack?: SipRequest): void {
    this.answeredTag = res.to.params['tag'] ?? '';
    if (ack) this.answeredAck = ack;
  }

  /** The ACK of the answered dialog went out (a late-offer ACK is sent after `answered`). */
  acked(ack: SipRequest): void {
    this.answeredAck = ack;
  }

  /** A 2xx after the first (`onAccepted2xx`): ACKed again, or ACKed and ended if another fork's. */
  receive(res: SipResponse): Further2xx {
    const tag = res.to.params['tag'] ?? '';
    if (this.answeredTag === undefined) return 'unanswered';
    if (tag === this.answeredTag) {
      // No ACK yet: a late-offer ACK is still being prepared and answers this 2xx too.
      if (this.answeredAck) this.opts.stack.sendStateless(this.answeredAck, this.opts.flow);
      return 'retransmission';
    }
    const known = this.forks.get(tag);
    if (known) {
      this.opts.stack.sendStateless(known, this.opts.flow);
      return 'fork';
    }
    this.endFork(res, tag);
    return 'fork';
  }

  private endFork(res: SipResponse, tag: string): void {
    this.forks.set(tag, endForkDialog(this.opts.stack, this.invite, res, this.opts.flow));
    this.opts.logger.info(
      { event: 'sip.fork_2xx', callId: this.invite.callId, keptTag: this.answeredTag, endedTag: tag },
      'second fork answered the INVITE: ACKed and ended with BYE (one dialog is kept)',
    );
  }
}

/**
 * Ends the dialog a 2xx to our INVITE opened that the TU does not keep (another fork's): it is
 * ACKed, as every 2xx must be (§13.2.2.4), then ended with BYE. `ours` is the INVITE, or once its
 * transaction is gone the ACK of the dialog we kept: either has the Call-ID, From tag and CSeq
 * number the fork's dialog shares. Returns the ACK, to send again for the 2xx's retransmissions.
 */
export function endForkDialog(stack: SipStack, ours: SipRequest, res: SipResponse, flow: Endpoint): SipRequest {
  const dialog = Dialog.asUac(ours, res, { flow, localContact: ours.headers.get('Contact') ?? '' });
  const ack = dialog.createAck(ours.cseq.seq);
  sendAck(stack, ack, dialog.flow);
  dialog.terminated = true;
  stack.sendRequest(dialog.createRequest('BYE', { headers: [reasonHeader(200, 'Call completed elsewhere')] }), { target: dialog.flow });
  return ack;
}
