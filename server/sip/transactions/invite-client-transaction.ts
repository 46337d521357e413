import type { SipRequest, SipResponse } from '../message.ts';
import { buildAckForNonSuccess } from './request-builders.ts';
import { ClientTransactionBase } from './client-transaction-base.ts';
import type { ClientTransactionHandler, TransactionChannel, TransactionContext } from './transaction.ts';

export type InviteClientState = 'Calling' | 'Proceeding' | 'Completed' | 'Terminated';

/**
 * RFC 3261 §17.1.1 INVITE client transaction (Figure 5). A 2xx is passed up and ends the
 * transaction; the TU (dialog layer) sends its ACK. For 300–699 the ACK is generated here with
 * the INVITE's branch (§17.1.1.3).
 */
export class InviteClientTransaction extends ClientTransactionBase<InviteClientState> {
  private cancelRequested = false;
  private cancelSent = false;
  private silenced = false;

  constructor(
    key: string,
    request: SipRequest,
    handler: ClientTransactionHandler,
    ctx: TransactionContext,
    /** Sends a CANCEL for this INVITE over `channel` (RFC 3261 §9.1); supplied by the owner. */
    private readonly sendCancel: (invite: SipRequest, channel: TransactionChannel) => void,
  ) {
    super(key, request, handler, ctx, 'Calling');
  }

  /** Sends the INVITE: Timer A (unreliable only) and Timer B start (§17.1.1.2). */
  start(channel: TransactionChannel): void {
    if (this.state !== 'Calling') return;
    this.sendRequest(channel, { retransmit: 'A', timeout: 'B', timeoutMs: this.ctx.timers.TIMER_B });
  }

  cancel(): void {
    if (this.state === 'Completed' || this.state === 'Terminated') return;
    this.cancelRequested = true;
    // §9.1: a CANCEL must not be sent before a provisional response has been received.
    if (this.state === 'Proceeding') this.emitCancel();
  }

  stopRetransmitting(): void {
    this.silenced = true;
    this.stopTimer('A');
  }

  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (status < 200) {
          this.state = 'Proceeding';
          this.stopTimer('A');
          this.releaseRequestBytes();
          this.safeCall('onProvisional', () => this.handler.onProvisional?.(res));
          if (this.cancelRequested) this.emitCancel();
        } else if (status < 300) {
          this.safeCall('onFinal', () => this.handler.onFinal?.(res));
          this.terminate();
        } else {
          this.state = 'Completed';
          this.stopTimer('A');
          this.stopTimer('B');
          const ack = buildAckForNonSuccess(this.request, res).toBuffer();
          if (this.channel) this.transmit(this.channel, ack, () => {});
          this.safeCall('onFinal', () => this.handler.onFinal?.(res));
          // Timer D: 0 for reliable transports (§17.1.1.2). Meanwhile a retransmitted final
          // means the ACK got lost: the lingering record sends it again, nothing is passed up.
          const d = this.channel?.reliable ? 0 : this.ctx.timers.TIMER_D;
          if (this.state === 'Completed') this.linger(d, this.channel, ack);
        }
        return;
      case 'Completed':
      case 'Terminated':
        return;
    }
  }

  onTransportError(err: Error): void {
    if (this.state === 'Terminated') return;
    // An ACK lost in Completed does not concern the TU; the final was delivered.
    const report = this.state === 'Calling' || this.state === 'Proceeding';
    this.terminate();
    if (report) this.safeCall('onTransportError', () => this.handler.onTransportError?.(err));
  }

  private emitCancel(): void {
    if (this.cancelSent || !this.channel) return;
    this.cancelSent = true;
    this.sendCancel(this.request, this.channel);
  }

  /** Timer B applies until a final response (§17.1.1.2). */
  protected get awaitingFinal(): boolean {
    return this.state === 'Calling' || this.state === 'Proceeding';
  }

  /** Timer A: only in Calling (§17.1.1.2). */
  protected get retransmitting(): boolean {
    return this.state === 'Calling' && !this.silenced;
  }

  /** Timer A doubles with no T2 cap for INVITE (§17.1.1.2). */
  protected nextRetransmitInterval(previous: number): number {
    return previous * 2;
  }
}
