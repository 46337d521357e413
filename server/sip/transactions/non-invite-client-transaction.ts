import type { SipRequest, SipResponse } from '../message.ts';
import {
  TransactionBase,
  type ClientTransaction,
  type ClientTransactionHandler,
  type TransactionChannel,
  type TransactionContext,
} from './transaction.ts';

export type NonInviteClientState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

/** RFC 3261 §17.1.2 non-INVITE client transaction (Figure 6). */
export class NonInviteClientTransaction extends TransactionBase<NonInviteClientState> implements ClientTransaction {
  state: NonInviteClientState = 'Trying';
  private channel: TransactionChannel | undefined;
  private timerEInterval = 0;

  constructor(
    key: string,
    readonly request: SipRequest,
    private readonly handler: ClientTransactionHandler,
    ctx: TransactionContext,
  ) {
    super(key, ctx);
  }

  /** Sends the request: Timer E (unreliable only) and Timer F start (§17.1.2.2). */
  start(channel: TransactionChannel): void {
    if (this.state !== 'Trying' || this.channel) return;
    this.channel = channel;
    this.transmit(channel, this.request, (err) => this.onTransportError(err));
    if (!channel.reliable) {
      this.timerEInterval = this.ctx.timers.T1;
      this.startTimer('E', this.timerEInterval, () => this.onTimerE());
    }
    this.startTimer('F', this.ctx.timers.TIMER_F, () => this.onTimerF());
  }

  /** Only INVITE transactions can be cancelled (RFC 3261 §9.1). */
  cancel(): void {}

  receiveResponse(res: SipResponse): void {
    if (this.state === 'Completed' || this.state === 'Terminated') return; // retransmission absorbed
    if (res.status < 200) {
      this.state = 'Proceeding';
      this.safeCall('onProvisional', () => this.handler.onProvisional?.(res));
      return;
    }
    this.state = 'Completed';
    this.stopTimer('E');
    this.stopTimer('F');
    this.safeCall('onFinal', () => this.handler.onFinal?.(res));
    const k = this.channel?.reliable ? 0 : this.ctx.timers.TIMER_K;
    this.startTimer('K', k, () => this.terminate());
  }

  onTransportError(err: Error): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    this.terminate();
    this.safeCall('onTransportError', () => this.handler.onTransportError?.(err));
  }

  terminate(): void {
    if (this.state === 'Terminated') return;
    this.state = 'Terminated';
    this.stopAllTimers();
    this.ctx.onTerminated(this.key);
  }

  /**
   * Timer E: retransmit; in Trying the interval doubles up to T2, in Proceeding it is T2
   * (§17.1.2.2).
   */
  private onTimerE(): void {
    if ((this.state !== 'Trying' && this.state !== 'Proceeding') || !this.channel) return;
    this.transmit(this.channel, this.request, (err) => this.onTransportError(err));
    this.timerEInterval = this.state === 'Trying' ? Math.min(2 * this.timerEInterval, this.ctx.timers.T2) : this.ctx.timers.T2;
    this.startTimer('E', this.timerEInterval, () => this.onTimerE());
  }

  /** Timer F: transaction timeout (§17.1.2.2). */
  private onTimerF(): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    this.terminate();
    this.safeCall('onTimeout', () => this.handler.onTimeout?.());
  }
}
