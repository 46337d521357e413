import type { SipRequest, SipResponse } from '../message.ts';
import { buildAckForNonSuccess } from './request-builders.ts';
import {
  TransactionBase,
  type ClientTransaction,
  type ClientTransactionHandler,
  type TransactionChannel,
  type TransactionContext,
} from './transaction.ts';

export type InviteClientState = 'Calling' | 'Proceeding' | 'Completed' | 'Terminated';

/**
 * RFC 3261 §17.1.1 INVITE client transaction (Figure 5). A 2xx is passed up and ends the
 * transaction; the TU (dialog layer) sends its ACK. For 300–699 the ACK is generated here with
 * the INVITE's branch (§17.1.1.3).
 */
export class InviteClientTransaction extends TransactionBase<InviteClientState> implements ClientTransaction {
  state: InviteClientState = 'Calling';
  private channel: TransactionChannel | undefined;
  private ack: SipRequest | undefined;
  private cancelRequested = false;
  private cancelSent = false;
  private timerAInterval = 0;

  constructor(
    key: string,
    readonly request: SipRequest,
    private readonly handler: ClientTransactionHandler,
    ctx: TransactionContext,
    /** Sends a CANCEL for this INVITE over `channel` (RFC 3261 §9.1); supplied by the owner. */
    private readonly sendCancel: (invite: SipRequest, channel: TransactionChannel) => void,
  ) {
    super(key, ctx);
  }

  /** Sends the INVITE: Timer A (unreliable only) and Timer B start (§17.1.1.2). */
  start(channel: TransactionChannel): void {
    if (this.state !== 'Calling') return;
    this.channel = channel;
    this.transmit(channel, this.request, (err) => this.onTransportError(err));
    if (!channel.reliable) {
      this.timerAInterval = this.ctx.timers.T1;
      this.startTimer('A', this.timerAInterval, () => this.onTimerA());
    }
    this.startTimer('B', this.ctx.timers.TIMER_B, () => this.onTimerB());
  }

  cancel(): void {
    if (this.state === 'Completed' || this.state === 'Terminated') return;
    this.cancelRequested = true;
    // §9.1: a CANCEL must not be sent before a provisional response has been received.
    if (this.state === 'Proceeding') this.emitCancel();
  }

  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (status < 200) {
          this.state = 'Proceeding';
          this.stopTimer('A');
          this.safeCall('onProvisional', () => this.handler.onProvisional?.(res));
          if (this.cancelRequested) this.emitCancel();
        } else if (status < 300) {
          this.safeCall('onFinal', () => this.handler.onFinal?.(res));
          this.terminate();
        } else {
          this.state = 'Completed';
          this.stopTimer('A');
          this.stopTimer('B');
          this.ack = buildAckForNonSuccess(this.request, res);
          this.sendAck();
          this.safeCall('onFinal', () => this.handler.onFinal?.(res));
          // Timer D: 0 for reliable transports (§17.1.1.2).
          const d = this.channel?.reliable ? 0 : this.ctx.timers.TIMER_D;
          this.startTimer('D', d, () => this.terminate());
        }
        return;
      case 'Completed':
        // Retransmitted final response: the ACK got lost, send it again; not passed up.
        if (status >= 300) this.sendAck();
        return;
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

  terminate(): void {
    if (this.state === 'Terminated') return;
    this.state = 'Terminated';
    this.stopAllTimers();
    this.ctx.onTerminated(this.key);
  }

  private sendAck(): void {
    if (this.ack && this.channel) this.transmit(this.channel, this.ack, () => {});
  }

  private emitCancel(): void {
    if (this.cancelSent || !this.channel) return;
    this.cancelSent = true;
    this.sendCancel(this.request, this.channel);
  }

  /** Timer A: retransmit, double the interval (no T2 cap for INVITE, §17.1.1.2). */
  private onTimerA(): void {
    if (this.state !== 'Calling' || !this.channel) return;
    this.transmit(this.channel, this.request, (err) => this.onTransportError(err));
    this.timerAInterval *= 2;
    this.startTimer('A', this.timerAInterval, () => this.onTimerA());
  }

  /** Timer B: transaction timeout, reported to the TU (§17.1.1.2). */
  private onTimerB(): void {
    if (this.state !== 'Calling' && this.state !== 'Proceeding') return;
    this.terminate();
    this.safeCall('onTimeout', () => this.handler.onTimeout?.());
  }
}
