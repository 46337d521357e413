import type { SipRequest, SipResponse } from '../message.ts';
import { ClientTransactionBase } from './client-transaction-base.ts';
import type { ClientTransactionHandler, TransactionChannel, TransactionContext } from './transaction.ts';

export type NonInviteClientState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

/** RFC 3261 §17.1.2 non-INVITE client transaction (Figure 6). */
export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientState> {
  constructor(key: string, request: SipRequest, handler: ClientTransactionHandler, ctx: TransactionContext) {
    super(key, request, handler, ctx, 'Trying');
  }

  /** Sends the request: Timer E (unreliable only) and Timer F start (§17.1.2.2). */
  start(channel: TransactionChannel): void {
    if (this.state !== 'Trying' || this.channel) return;
    this.sendRequest(channel, { retransmit: 'E', timeout: 'F', timeoutMs: this.ctx.timers.TIMER_F });
  }

  /** Only INVITE transactions can be cancelled (RFC 3261 §9.1). */
  cancel(): void {}

  receiveResponse(res: SipResponse): void {
    if (this.state === 'Completed' || this.state === 'Terminated') return; // the lingering record absorbs these
    if (res.status < 200) {
      this.state = 'Proceeding';
      this.safeCall('onProvisional', () => this.handler.onProvisional?.(res));
      return;
    }
    this.state = 'Completed';
    this.stopTimer('E');
    this.stopTimer('F');
    this.safeCall('onFinal', () => this.handler.onFinal?.(res));
    // Timer K: retransmitted finals are absorbed; nothing to resend (§17.1.2.2).
    const k = this.channel?.reliable ? 0 : this.ctx.timers.TIMER_K;
    this.linger(k, undefined, undefined);
  }

  onTransportError(err: Error): void {
    if (!this.awaitingFinal) return;
    this.terminate();
    this.safeCall('onTransportError', () => this.handler.onTransportError?.(err));
  }

  protected get awaitingFinal(): boolean {
    return this.state === 'Trying' || this.state === 'Proceeding';
  }

  /** Timer E runs until a final response (§17.1.2.2). */
  protected get retransmitting(): boolean {
    return this.awaitingFinal;
  }

  /** Timer E: in Trying the interval doubles up to T2, in Proceeding it is T2 (§17.1.2.2). */
  protected nextRetransmitInterval(previous: number): number {
    return this.state === 'Trying' ? Math.min(2 * previous, this.ctx.timers.T2) : this.ctx.timers.T2;
  }
}
