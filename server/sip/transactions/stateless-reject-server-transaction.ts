import type { Logger } from 'pino';
import type { SipRequest, SipResponse } from '../message.ts';
import type { ServerTransaction, TransactionChannel } from './transaction.ts';

/**
 * A non-INVITE server transaction that keeps state only once it succeeds.
 *
 * Most out-of-dialog REGISTERs from strangers end in a challenge or a refusal. Kept as RFC 3261
 * §17.2.2 transactions, each of those would sit in the table for Timer J (32 s on UDP) so that a
 * retransmission gets the same answer — which lets anyone grow the table at line rate with fresh
 * branches. Answered statelessly (§8.2.7 leaves that to the UAS), a retransmitted request is just
 * handled again and gets an equivalent answer. A 2xx does become a real transaction (`promote`),
 * because re-handling a retransmitted successful REGISTER would answer 500 "out of order".
 */
export class StatelessRejectServerTransaction implements ServerTransaction {
  private answered: 'no' | 'provisional' | 'final' = 'no';
  private promoted: ServerTransaction | undefined;

  constructor(
    readonly request: SipRequest,
    private readonly channel: TransactionChannel,
    /** Creates, files and returns the stateful transaction a 2xx is sent on. */
    private readonly promote: () => ServerTransaction,
    private readonly logger: Logger,
  ) {}

  get state(): string {
    if (this.promoted) return this.promoted.state;
    return this.answered === 'final' ? 'Completed' : this.answered === 'provisional' ? 'Proceeding' : 'Trying';
  }

  respond(res: SipResponse): void {
    if (this.promoted) {
      this.promoted.respond(res);
      return;
    }
    if (this.answered === 'final') {
      this.logger.debug({ status: res.status }, 'response after final ignored');
      return;
    }
    if (res.status >= 200 && res.status < 300) {
      this.promoted = this.promote();
      this.promoted.respond(res);
      return;
    }
    this.answered = res.status < 200 ? 'provisional' : 'final';
    let sent: Promise<void>;
    try {
      sent = this.channel.send(res.toBuffer());
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'stateless response not sent');
      return;
    }
    sent.catch((err: Error) => this.logger.debug({ err: err.message }, 'stateless response not sent'));
  }
}
