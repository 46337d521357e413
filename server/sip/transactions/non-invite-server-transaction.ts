import type { SipRequest, SipResponse } from '../message.ts';
import { TransactionBase, type ServerTransaction, type TransactionChannel, type TransactionContext } from './transaction.ts';

export type NonInviteServerState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

/** RFC 3261 §17.2.2 non-INVITE server transaction (Figure 8). */
export class NonInviteServerTransaction extends TransactionBase<NonInviteServerState> implements ServerTransaction {
  /** The last provisional, serialized once; resent on retransmitted requests in Proceeding. */
  private lastProvisional: Buffer | undefined;

  constructor(
    key: string,
    readonly request: SipRequest,
    private readonly channel: TransactionChannel,
    ctx: TransactionContext,
    /** For a CANCEL: the INVITE server transaction it matched (RFC 3261 §9.2). */
    readonly cancelled?: ServerTransaction,
  ) {
    super(key, ctx, 'Trying');
    // Not in RFC 3261: reclaims a transaction the TU never answers, so it cannot leak.
    this.startTimer('unanswered', 2 * ctx.timers.TIMER_F, () => this.terminate());
  }

  respond(res: SipResponse): void {
    if (this.state === 'Completed' || this.state === 'Terminated') {
      this.ctx.logger.debug({ tx: this.key, status: res.status, state: this.state }, 'response after final ignored');
      return;
    }
    const data = res.toBuffer();
    this.transmit(this.channel, data, (err) => this.onTransportError(err));
    if (res.status < 200) {
      this.state = 'Proceeding';
      this.lastProvisional = data;
      return;
    }
    this.state = 'Completed';
    this.lastProvisional = undefined;
    // Timer J: 64*T1 for unreliable transports, 0 for reliable (§17.2.2). The final's bytes
    // answer retransmitted requests meanwhile.
    const j = this.channel.reliable ? 0 : this.ctx.timers.TIMER_J;
    this.linger(j, this.channel, data);
  }

  /** A retransmitted request: absorbed in Trying, answered with the last provisional in Proceeding (§17.2.2). */
  receiveRetransmission(): void {
    if (this.state === 'Proceeding' && this.lastProvisional) {
      this.transmit(this.channel, this.lastProvisional, (err) => this.onTransportError(err));
    }
  }

  onTransportError(err: Error): void {
    if (this.state === 'Terminated') return;
    this.ctx.logger.debug({ tx: this.key, err: err.message }, 'non-INVITE server transaction transport error');
    this.terminate();
  }
}
