import type { SipResponse } from '../message.ts';
import type { TimerHandle } from '../timer-wheel.ts';
import type { TransactionChannel, TransactionContext } from './transaction.ts';

/**
 * A transaction whose outcome is settled and which only absorbs retransmissions until its timer
 * ends it: non-INVITE server Completed (Timer J, RFC 3261 §17.2.2), INVITE server Accepted
 * (Timer L, RFC 6026 §8.7), non-INVITE client Completed (Timer K, §17.1.2.2), INVITE client
 * Completed (Timer D, §17.1.1.2) and INVITE client Accepted (Timer M, RFC 6026 §8.4). It holds the key, the serialized message to resend (the final
 * response, or the ACK for a non-2xx) and where it goes — no parsed request or response, so the
 * transaction object the TU saw can be collected long before the timer fires.
 */
export class LingeringTransaction {
  private timer: TimerHandle | undefined;

  constructor(
    readonly key: string,
    /** Shared with the transaction object the TU holds, so its `state` still ends Terminated. */
    private readonly phase: { state: string },
    private readonly ctx: TransactionContext,
    private readonly channel: TransactionChannel | undefined,
    private readonly resend: Buffer | undefined,
    /** INVITE client Accepted: where further 2xx go (the TU; they are not resent or absorbed here). */
    private readonly pass2xx?: (res: SipResponse) => void,
  ) {}

  get state(): string {
    return this.phase.state;
  }

  expireAfter(ms: number): void {
    this.ctx.wheel.cancel(this.timer);
    this.timer = this.ctx.wheel.schedule(ms, () => this.terminate());
  }

  terminate(): void {
    this.ctx.wheel.cancel(this.timer);
    this.timer = undefined;
    this.phase.state = 'Terminated';
    this.ctx.onTerminated(this.key, this);
  }

  /** Server side: a retransmitted request gets the final response again (none after a 2xx). */
  receiveRetransmission(): void {
    this.send();
  }

  /**
   * Client side: a retransmitted non-2xx final means our ACK got lost; it is not passed up. In
   * Accepted every 2xx is the TU's (RFC 6026 §7.2): a lost ACK, or another fork's answer.
   */
  receiveResponse(res: SipResponse): void {
    if (res.status >= 300) this.send();
    else if (res.status >= 200 && this.pass2xx && this.phase.state !== 'Terminated') {
      try {
        this.pass2xx(res);
      } catch (err) {
        this.ctx.logger.error({ err, tx: this.key }, 'transaction user threw in onAccepted2xx');
      }
    }
  }

  private send(): void {
    if (!this.resend || !this.channel || this.phase.state === 'Terminated') return;
    try {
      this.channel.send(this.resend).catch((err: Error) => this.onTransportError(err));
    } catch (err) {
      this.onTransportError(err as Error);
    }
  }

  private onTransportError(err: Error): void {
    this.ctx.logger.debug({ tx: this.key, err: err.message }, 'lingering transaction transport error');
    this.terminate();
  }
}
