import type { SipResponse } from './message.ts';
import type { TimerHandle, TimerWheel } from './timer-wheel.ts';

export interface Retransmit2xxOptions {
  wheel: TimerWheel;
  T1: number;
  T2: number;
  /** Puts the 2xx on the wire again (the INVITE server transaction is already gone, §17.2.1). */
  send(res: SipResponse): void;
  /** No ACK within 64·T1: the UAS must end the dialog with BYE (§13.3.1.4). */
  onGiveUp(): void;
}

/**
 * RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx to INVITE starting at T1, doubling up to
 * T2, until the ACK arrives; after 64·T1 without ACK it gives up.
 */
export class Invite2xxRetransmitter {
  private interval: number;
  private retransmitTimer: TimerHandle | undefined;
  private giveUpTimer: TimerHandle | undefined;
  private done = false;

  /** Dropped once acknowledged: the call keeps this object for its whole life. */
  private response: SipResponse | undefined;

  constructor(response: SipResponse, private readonly opts: Retransmit2xxOptions) {
    this.response = response;
    this.interval = opts.T1;
  }

  start(): void {
    this.retransmitTimer = this.opts.wheel.schedule(this.interval, () => this.fire());
    this.giveUpTimer = this.opts.wheel.schedule(64 * this.opts.T1, () => {
      if (this.done) return;
      this.stop();
      this.opts.onGiveUp();
    });
  }

  get acknowledged(): boolean {
    return this.done;
  }

  /** The ACK arrived (or the dialog ended some other way). */
  stop(): void {
    this.done = true;
    this.opts.wheel.cancel(this.retransmitTimer);
    this.opts.wheel.cancel(this.giveUpTimer);
    this.retransmitTimer = undefined;
    this.giveUpTimer = undefined;
    this.response = undefined;
  }

  private fire(): void {
    if (this.done || !this.response) return;
    this.opts.send(this.response);
    this.interval = Math.min(this.interval * 2, this.opts.T2);
    this.retransmitTimer = this.opts.wheel.schedule(this.interval, () => this.fire());
  }
}
