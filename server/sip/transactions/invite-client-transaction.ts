import type { SipRequest, SipResponse } from '../message.ts';
import { buildAckForNonSuccess } from './request-builders.ts';
import { ClientTransactionBase } from './client-transaction-base.ts';
import type { ClientTransactionHandler, TransactionChannel, TransactionContext } from './transaction.ts';

/** RFC 3261 §17.1.1 states, plus Accepted from RFC 6026 §7.2. */
export type InviteClientState = 'Calling' | 'Proceeding' | 'Accepted' | 'Completed' | 'Terminated';

/** RFC 6026 Figure 5: the only moves the transaction makes. */
export const INVITE_CLIENT_TRANSITIONS: Readonly<Record<InviteClientState, readonly InviteClientState[]>> = {
  Calling: ['Proceeding', 'Accepted', 'Completed', 'Terminated'],
  Proceeding: ['Accepted', 'Completed', 'Terminated'],
  // Timer M (or the owner stopping) is the only way out.
  Accepted: ['Terminated'],
  Completed: ['Terminated'],
  Terminated: [],
};

/**
 * RFC 3261 §17.1.1 INVITE client transaction (Figure 5) as amended by RFC 6026: the first 2xx is
 * passed up and the transaction turns Accepted for Timer M, so every later 2xx — the same one
 * retransmitted because our ACK got lost, or another fork's answer with its own To tag — still
 * matches it and goes to the TU (`onAccepted2xx`) instead of being stray. The TU sends every ACK
 * for a 2xx; the INVITE is never resent after one. For 300–699 the ACK is generated here with the
 * INVITE's branch (§17.1.1.3).
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
    if (this.state !== 'Calling' && this.state !== 'Proceeding') return;
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
          if (this.state === 'Calling') this.moveTo('Proceeding');
          this.stopTimer('A');
          this.releaseRequestBytes();
          this.safeCall('onProvisional', () => this.handler.onProvisional?.(res));
          if (this.cancelRequested) this.emitCancel();
        } else if (status < 300) {
          this.moveTo('Accepted');
          this.stopTimer('A');
          this.stopTimer('B');
          this.safeCall('onFinal', () => this.handler.onFinal?.(res));
          // Timer M on every transport (§8.4): forks answer over any transport, any time.
          if (this.stillIn('Accepted')) this.linger(this.ctx.timers.TIMER_M, undefined, undefined, accepted2xxReceiver(this.handler));
        } else {
          this.moveTo('Completed');
          this.stopTimer('A');
          this.stopTimer('B');
          const ack = buildAckForNonSuccess(this.request, res).toBuffer();
          if (this.channel) this.transmit(this.channel, ack, () => {});
          this.safeCall('onFinal', () => this.handler.onFinal?.(res));
          // Timer D: 0 for reliable transports (§17.1.1.2). Meanwhile a retransmitted final
          // means the ACK got lost: the lingering record sends it again, nothing is passed up.
          const d = this.channel?.reliable ? 0 : this.ctx.timers.TIMER_D;
          if (this.stillIn('Completed')) this.linger(d, this.channel, ack);
        }
        return;
      case 'Accepted':
        // Only until the lingering record has taken this transaction's place in the table.
        if (status >= 200 && status < 300) this.safeCall('onAccepted2xx', () => this.handler.onAccepted2xx?.(res));
        return;
      case 'Completed':
      case 'Terminated':
        return;
    }
  }

  /** After a TU callback: it may have ended the transaction meanwhile. */
  private stillIn(state: InviteClientState): boolean {
    return this.state === state;
  }

  private moveTo(next: InviteClientState): void {
    if (!INVITE_CLIENT_TRANSITIONS[this.state].includes(next)) throw new Error(`INVITE client transaction: ${this.state} → ${next} is not allowed`);
    this.state = next;
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

/**
 * What the Accepted record keeps for Timer M (32 s on UDP): the TU's onAccepted2xx alone, not this
 * transaction and its handler, whose other callbacks hold the whole call long after it ended.
 */
function accepted2xxReceiver(handler: ClientTransactionHandler): ((res: SipResponse) => void) | undefined {
  const receive = handler.onAccepted2xx;
  return receive && ((res) => receive(res));
}
