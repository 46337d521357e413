import type { Logger } from 'pino';
import type { SipRequest, SipResponse } from '../message.ts';
import type { TimerHandle, TimerWheel } from '../timer-wheel.ts';
import type { TransactionTimers } from './timer-settings.ts';
import { LingeringTransaction } from './lingering-transaction.ts';

/** Callbacks of a client transaction to its TU (RFC 3261 §17.1). */
export interface ClientTransactionHandler {
  onProvisional?(r: SipResponse): void;
  onFinal?(r: SipResponse): void;
  /**
   * INVITE only: a further 2xx while the transaction is Accepted (RFC 6026 §7.2) — the first one
   * retransmitted (its ACK got lost) or another fork's answer (another To tag). `onFinal` saw the
   * first 2xx; these are the TU's to ACK (§13.2.2.4), nothing is resent by the transaction.
   * Kept alone (called without the handler as `this`) for Timer M: whatever it closes over lives
   * 32 s past the answer on UDP, so it should close over what ACKs the 2xx, not the whole call.
   */
  onAccepted2xx?(r: SipResponse): void;
  /** Timer B or F fired (RFC 3261 §17.1.1.2, §17.1.2.2). */
  onTimeout?(): void;
  /** RFC 3261 §17.1.4. */
  onTransportError?(err: Error): void;
}

export interface ClientTransaction {
  readonly request: SipRequest;
  readonly state: string;
  /** INVITE only (RFC 3261 §9.1): sends CANCEL once a provisional response has arrived. */
  cancel(): void;
  /**
   * INVITE only: the TU gave up on a target that sent nothing (Kamailio's fr_timer), so the
   * request is no longer retransmitted; a late response is still matched until Timer B.
   */
  stopRetransmitting?(): void;
}

export interface ServerTransaction {
  readonly request: SipRequest;
  readonly state: string;
  respond(res: SipResponse): void;
  /** INVITE only: called by the stack when a CANCEL matched this transaction (RFC 3261 §9.2). */
  onCancel?: () => void;
  /** On a CANCEL's own transaction: the INVITE server transaction it cancelled. */
  readonly cancelled?: ServerTransaction;
  /**
   * The TU has accepted the request for real work (Kamailio's `t_newtran`): from now on it keeps
   * RFC 3261 state — an INVITE gets its 100 Trying now, and a later refusal is retransmitted and
   * absorbs retransmissions instead of being handled again. Refusals before it may be stateless.
   */
  keepState?(): void;
}

/** Where a transaction's messages go: fixed when the transaction is created. */
export interface TransactionChannel {
  /** False on UDP: retransmission timers run only then (RFC 3261 §17.1.1.2). */
  readonly reliable: boolean;
  /** Wire bytes: a transaction serializes each message once and resends the same bytes. */
  send(data: Buffer): Promise<void>;
}

/** What a transaction needs from the layer that owns it. */
export interface TransactionContext {
  readonly wheel: TimerWheel;
  readonly timers: TransactionTimers;
  readonly logger: Logger;
  /** `tx` reached Terminated; the owner forgets it (if `key` still maps to it). */
  onTerminated(key: string, tx: object): void;
  /** `tx` settled: the owner keeps `record` under `key` instead, so `tx` can be collected. */
  onLinger(key: string, tx: object, record: LingeringTransaction): void;
}

/**
 * What every transaction shares: timer bookkeeping (each named RFC timer has at most one pending
 * entry) and the way into Terminated.
 */
export abstract class TransactionBase<S extends string> {
  /** Shared with the LingeringTransaction that may outlive this object in the owner's table. */
  private readonly phase: { state: S | 'Terminated' };
  private readonly pending = new Map<string, TimerHandle>();
  protected constructor(
    readonly key: string,
    protected readonly ctx: TransactionContext,
    initial: S,
  ) {
    this.phase = { state: initial };
  }

  get state(): S | 'Terminated' {
    return this.phase.state;
  }

  set state(s: S | 'Terminated') {
    this.phase.state = s;
  }

  /** Ends the transaction: its timers stop and the owner forgets it. */
  terminate(): void {
    if (this.state === 'Terminated') return;
    this.state = 'Terminated';
    this.stopAllTimers();
    this.ctx.onTerminated(this.key, this);
  }

  /**
   * The outcome is settled and only retransmissions are left to absorb for `ms` (Timer D, J, K,
   * L): the owner swaps this object for a LingeringTransaction that keeps the key, the bytes to
   * resend (if any) and the channel, but no parsed request or response. Under load (thousands of
   * REGISTERs a second, Timer J = 32 s) the parsed messages were most of the live heap.
   */
  protected linger(ms: number, channel: TransactionChannel | undefined, resend: Buffer | undefined, pass2xx?: (res: SipResponse) => void): void {
    this.stopAllTimers();
    const record = new LingeringTransaction(this.key, this.phase, this.ctx, channel, resend, pass2xx);
    this.ctx.onLinger(this.key, this, record);
    record.expireAfter(ms);
  }

  protected startTimer(name: string, ms: number, fn: () => void): void {
    this.ctx.wheel.cancel(this.pending.get(name));
    this.pending.set(
      name,
      this.ctx.wheel.schedule(ms, () => {
        this.pending.delete(name);
        fn();
      }),
    );
  }

  protected stopTimer(name: string): void {
    this.ctx.wheel.cancel(this.pending.get(name));
    this.pending.delete(name);
  }

  protected stopAllTimers(): void {
    for (const h of this.pending.values()) this.ctx.wheel.cancel(h);
    this.pending.clear();
  }

  /** Sends and reports a failure to `onError` instead of throwing (callers are timer/socket paths). */
  protected transmit(channel: TransactionChannel, data: Buffer, onError: (err: Error) => void): void {
    let p: Promise<void>;
    try {
      p = channel.send(data);
    } catch (err) {
      onError(err as Error);
      return;
    }
    p.catch((err: Error) => onError(err));
  }

  protected safeCall(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ctx.logger.error({ err, tx: this.key }, `transaction user threw in ${what}`);
    }
  }
}
