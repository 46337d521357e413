import type { SipRequest, SipResponse } from '../message.ts';
import {
  TransactionBase,
  type ClientTransaction,
  type ClientTransactionHandler,
  type TransactionChannel,
  type TransactionContext,
} from './transaction.ts';

/** Which RFC 3261 timers a client transaction runs: A/B for INVITE, E/F for the rest. */
export interface ClientTimers {
  retransmit: 'A' | 'E';
  timeout: 'B' | 'F';
  timeoutMs: number;
}

/**
 * What both RFC 3261 §17.1 client transactions do alike: send the request, retransmit it on
 * unreliable transports starting at T1, and report a timeout while no final response has come.
 * Subclasses say when retransmitting stops and how the interval grows.
 */
export abstract class ClientTransactionBase<S extends string> extends TransactionBase<S> implements ClientTransaction {
  protected channel: TransactionChannel | undefined;
  /** The request serialized once: retransmissions are byte-identical and cost no re-serialization. */
  private requestBytes: Buffer | undefined;

  protected constructor(
    key: string,
    readonly request: SipRequest,
    protected readonly handler: ClientTransactionHandler,
    ctx: TransactionContext,
    initial: S,
  ) {
    super(key, ctx, initial);
  }

  abstract cancel(): void;
  abstract onTransportError(err: Error): void;

  /** True until a final response arrived: the timeout still applies. */
  protected abstract get awaitingFinal(): boolean;
  /** True while the request is still retransmitted. */
  protected abstract get retransmitting(): boolean;
  /** The retransmission interval that follows `previous`. */
  protected abstract nextRetransmitInterval(previous: number): number;

  /** Sends the request; the retransmit timer (unreliable only) and the timeout timer start. */
  protected sendRequest(channel: TransactionChannel, timers: ClientTimers): void {
    this.channel = channel;
    this.requestBytes = this.request.toBuffer();
    this.transmit(channel, this.requestBytes, (err) => this.onTransportError(err));
    if (!channel.reliable) this.scheduleRetransmit(timers.retransmit, this.ctx.timers.T1);
    this.startTimer(timers.timeout, timers.timeoutMs, () => this.onTimeoutTimer());
  }

  /**
   * Nothing will be retransmitted any more (a final response, or an INVITE's provisional): the
   * bytes go, since a call keeps its INVITE client transaction as long as it lasts.
   */
  protected releaseRequestBytes(): void {
    this.requestBytes = undefined;
  }

  override terminate(): void {
    this.requestBytes = undefined;
    super.terminate();
  }

  protected override linger(ms: number, channel: TransactionChannel | undefined, resend: Buffer | undefined, pass2xx?: (res: SipResponse) => void): void {
    this.requestBytes = undefined;
    super.linger(ms, channel, resend, pass2xx);
  }

  private scheduleRetransmit(timer: ClientTimers['retransmit'], interval: number): void {
    this.startTimer(timer, interval, () => this.onRetransmitTimer(timer, interval));
  }

  private onRetransmitTimer(timer: ClientTimers['retransmit'], interval: number): void {
    if (!this.retransmitting || !this.channel || !this.requestBytes) return;
    this.transmit(this.channel, this.requestBytes, (err) => this.onTransportError(err));
    this.scheduleRetransmit(timer, this.nextRetransmitInterval(interval));
  }

  private onTimeoutTimer(): void {
    if (!this.awaitingFinal) return;
    this.terminate();
    this.safeCall('onTimeout', () => this.handler.onTimeout?.());
  }
}
