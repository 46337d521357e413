import type { SipRequest, SipResponse } from '../message.ts';
import { TransactionBase, type ServerTransaction, type TransactionChannel, type TransactionContext } from './transaction.ts';

export type StatelessRejectState = 'Trying' | 'Proceeding' | 'Completed';

/** Which responses go out without state, and who counts them. */
export interface StatelessPolicy {
  /**
   * True for a status sent once, statelessly; anything else promotes the request to an ordinary
   * transaction first. Default: provisionals and non-2xx finals (out of dialog).
   */
  isStateless?: (status: number) => boolean;
  /** Told once per stateless final (the stack counts them). */
  onStatelessFinal?: () => void;
}

const defaultIsStateless = (status: number): boolean => status < 200 || status >= 300;

/**
 * An out-of-dialog non-INVITE server transaction that keeps state only once it succeeds
 * (Kamailio's `sl_send_reply` for everything but a 2xx).
 *
 * Most out-of-dialog requests from strangers end in a challenge or a refusal. Kept as RFC 3261
 * §17.2.2 transactions, each of those would sit in the table for Timer J (32 s on UDP) so that a
 * retransmission gets the same answer — which lets anyone grow the table at line rate with fresh
 * branches. Answered statelessly (§8.2.7 leaves that to the UAS), a retransmitted request is just
 * handled again and gets an equivalent answer. While the TU is still deciding, this object sits in
 * the table under the request's key so a retransmission is absorbed instead of handled twice; a
 * non-2xx final sends once and takes it out. A 2xx does become a real transaction (`promote`),
 * because re-handling a retransmitted successful REGISTER would answer 500 "out of order".
 */
export class StatelessRejectServerTransaction extends TransactionBase<StatelessRejectState> implements ServerTransaction {
  private promoted: ServerTransaction | undefined;
  private lastProvisional: Buffer | undefined;

  constructor(
    key: string,
    readonly request: SipRequest,
    private readonly channel: TransactionChannel,
    ctx: TransactionContext,
    /** Creates, files under the same key and returns the stateful transaction a 2xx is sent on. */
    private readonly promote: () => ServerTransaction,
    private readonly policy: StatelessPolicy = {},
  ) {
    super(key, ctx, 'Trying');
    // Reclaims the table entry of a request the TU never answers, like NonInviteServerTransaction.
    this.startTimer('unanswered', 2 * ctx.timers.TIMER_F, () => this.terminate());
  }

  respond(res: SipResponse): void {
    if (this.promoted) {
      this.promoted.respond(res);
      return;
    }
    if (this.state === 'Completed' || this.state === 'Terminated') {
      this.ctx.logger.debug({ status: res.status }, 'response after final ignored');
      return;
    }
    if (!(this.policy.isStateless ?? defaultIsStateless)(res.status)) {
      this.stopAllTimers();
      this.promoted = this.promote();
      this.promoted.respond(res);
      this.state = res.status >= 200 ? 'Completed' : 'Proceeding';
      return;
    }
    const data = res.toBuffer();
    this.transmit(this.channel, data, (err) => this.ctx.logger.debug({ err: err.message }, 'stateless response not sent'));
    if (res.status < 200) {
      this.state = 'Proceeding';
      this.lastProvisional = data;
      return;
    }
    this.lastProvisional = undefined;
    this.policy.onStatelessFinal?.();
    this.terminate();
    // Terminated is internal bookkeeping; the TU sees the request answered.
    this.state = 'Completed';
  }

  /** While undecided: absorbed, or answered with the last provisional (§17.2.2 Trying/Proceeding). */
  receiveRetransmission(): void {
    if (this.lastProvisional) this.transmit(this.channel, this.lastProvisional, () => {});
  }
}
