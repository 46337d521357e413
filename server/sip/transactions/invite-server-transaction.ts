import { createResponse, type SipRequest, type SipResponse } from '../message.ts';
import { TransactionBase, type ServerTransaction, type TransactionChannel, type TransactionContext } from './transaction.ts';

/** RFC 3261 §17.2.1 states, plus Accepted from RFC 6026 §7.1. */
export type InviteServerState = 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';

/** How an out-of-dialog INVITE may be refused without keeping state (see `statelessRejectWindowMs`). */
export interface InviteServerOptions {
  /**
   * Holds the 100 Trying back this long (§17.2.1 lets a server skip it when the TU answers within
   * 200 ms). A non-2xx final the TU sends before any provisional then goes out once, statelessly
   * (Kamailio's `sl_send_reply`): no Timer G retransmissions toward a possibly spoofed source and
   * no table entry for Timer H. A retransmitted INVITE is handled again and gets an equivalent
   * answer; its ACK matches nothing and the core drops it. Once a provisional went out (the TU was
   * slower, or the call proceeds) the transaction is the ordinary stateful one. Unset: 100 at once.
   * 0: the 100 waits only until the stack has delivered the request (`releaseTrying`), for TUs that
   * refuse synchronously.
   */
  statelessRejectWindowMs?: number;
  /**
   * Which finals sent before any provisional go out statelessly. Default every non-2xx; for an
   * in-dialog INVITE the stack passes 481 only (nothing else is safe to answer twice).
   */
  isStatelessFinal?: (status: number) => boolean;
  /** Told once per stateless final (the stack counts them). */
  onStatelessFinal?: () => void;
}

/**
 * RFC 3261 §17.2.1 INVITE server transaction (Figure 7) with the RFC 6026 Accepted state: after a
 * 2xx the transaction lingers for Timer L so retransmitted INVITEs are absorbed instead of
 * starting a new call; retransmitting the 2xx itself is the TU's job (§13.3.1.4).
 */
export class InviteServerTransaction extends TransactionBase<InviteServerState> implements ServerTransaction {
  onCancel?: () => void;
  /** Serialized once: resent on retransmitted INVITEs (Proceeding) and by Timer G (Completed). */
  private lastProvisional: Buffer | undefined;
  /** Only a non-2xx final is resent by the transaction (a 2xx is the TU's to resend). */
  private finalResponse: Buffer | undefined;
  private finalSent = false;
  private provisionalTag: string | undefined;
  private timerGInterval = 0;
  /** Set by keepState: no stateless final any more. */
  private stateful = false;

  constructor(
    key: string,
    readonly request: SipRequest,
    private readonly channel: TransactionChannel,
    ctx: TransactionContext,
    private readonly options: InviteServerOptions = {},
  ) {
    super(key, ctx, 'Proceeding');
  }

  /** §17.2.1: the 100 Trying goes out at once (or after the stateless window), so the client stops retransmitting. */
  start(): void {
    const window = this.options.statelessRejectWindowMs;
    if (window === undefined) this.sendTrying();
    else if (window > 0) this.startTimer('Trying', window, () => this.sendTrying());
  }

  keepState(): void {
    this.stateful = true;
    this.stopTimer('Trying');
    this.sendTrying();
  }

  /** Window 0: the TU has seen the request; if it has not answered, the 100 goes out now. */
  releaseTrying(): void {
    this.sendTrying();
  }

  private sendTrying(): void {
    if (this.state !== 'Proceeding' || this.lastProvisional) return;
    const trying = createResponse(this.request, 100, 'Trying').toBuffer();
    this.lastProvisional = trying;
    this.transmit(this.channel, trying, (err) => this.onTransportError(err));
  }

  /** The To tag the TU already used in a provisional (so a stack-generated 487 matches it). */
  get provisionalToTag(): string | undefined {
    return this.provisionalTag;
  }

  /** True once a final response was sent (or the transaction ended). */
  get finallyAnswered(): boolean {
    return this.finalSent || this.state === 'Terminated';
  }

  respond(res: SipResponse): void {
    if (this.state !== 'Proceeding') {
      this.ctx.logger.debug({ tx: this.key, status: res.status, state: this.state }, 'response after final ignored');
      return;
    }
    const data = res.toBuffer();
    this.stopTimer('Trying');
    const window = this.options.statelessRejectWindowMs;
    if (res.status >= 300 && !this.lastProvisional && !this.stateful && window !== undefined && (this.options.isStatelessFinal ?? (() => true))(res.status)) {
      // Nothing sent yet: refuse statelessly (see InviteServerOptions).
      this.transmit(this.channel, data, () => {});
      this.options.onStatelessFinal?.();
      this.terminate();
      return;
    }
    this.transmit(this.channel, data, (err) => this.onTransportError(err));
    if (res.status < 200) {
      this.lastProvisional = data;
      this.provisionalTag = res.status === 100 ? undefined : toTagOf(res);
      return;
    }
    this.finalSent = true;
    this.lastProvisional = undefined;
    if (res.status < 300) {
      // No copy of the 2xx kept: the call holds this transaction as long as it lasts, and the
      // bytes would be dead weight per live call (the TU's retransmitter has its own).
      // Accepted: retransmitted INVITEs are absorbed, not answered (the TU resends the 2xx).
      this.state = 'Accepted';
      this.linger(this.ctx.timers.TIMER_L, undefined, undefined);
      return;
    }
    this.finalResponse = data;
    this.state = 'Completed';
    if (!this.channel.reliable) {
      this.timerGInterval = this.ctx.timers.T1;
      this.startTimer('G', this.timerGInterval, () => this.onTimerG());
    }
    this.startTimer('H', this.ctx.timers.TIMER_H, () => this.onTimerH());
  }

  /** A retransmitted INVITE (§17.2.1): resend the most recent response. */
  receiveRetransmission(): void {
    if (this.state === 'Proceeding' && this.lastProvisional) {
      this.transmit(this.channel, this.lastProvisional, (err) => this.onTransportError(err));
    } else if (this.state === 'Completed' && this.finalResponse) {
      this.transmit(this.channel, this.finalResponse, (err) => this.onTransportError(err));
    }
  }

  /** ACK for a non-2xx final (same branch): Completed → Confirmed, Timer I (§17.2.1). */
  receiveAck(): void {
    if (this.state !== 'Completed') return;
    this.state = 'Confirmed';
    this.stopTimer('G');
    this.stopTimer('H');
    const i = this.channel.reliable ? 0 : this.ctx.timers.TIMER_I;
    this.startTimer('I', i, () => this.terminate());
  }

  onTransportError(err: Error): void {
    if (this.state === 'Terminated') return;
    this.ctx.logger.debug({ tx: this.key, err: err.message }, 'INVITE server transaction transport error');
    this.terminate();
  }

  /** Timer G: retransmit the final response, interval doubling up to T2 (§17.2.1). */
  private onTimerG(): void {
    if (this.state !== 'Completed' || !this.finalResponse) return;
    this.transmit(this.channel, this.finalResponse, (err) => this.onTransportError(err));
    this.timerGInterval = Math.min(2 * this.timerGInterval, this.ctx.timers.T2);
    this.startTimer('G', this.timerGInterval, () => this.onTimerG());
  }

  /** Timer H: the ACK never came (§17.2.1). */
  private onTimerH(): void {
    if (this.state !== 'Completed') return;
    this.ctx.logger.debug({ tx: this.key, callId: this.request.callId }, 'Timer H fired: no ACK received');
    this.terminate();
  }
}

function toTagOf(res: SipResponse): string | undefined {
  try {
    return res.to.params['tag'] ?? undefined;
  } catch {
    return undefined;
  }
}
