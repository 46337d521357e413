import type { Logger } from 'pino';
import { createResponse, Dialog, newTag, retransmit2xxUntilAck, type Invite2xxRetransmitter, type SipRequest, type SipResponse } from '../../sip/index.ts';
import type { ServerTransaction, SipStack } from '../../sip/index.ts';
import type { PhoneDialog } from '../phone-dialog.ts';
import type { CallParty } from '../records/index.ts';
import { SessionState, sessionStateMachine } from './session-state.ts';

/** What the caller's leg needs of its call (the Call implements it). */
export interface CallerLegHost {
  /** The caller's INVITE and its server transaction. */
  readonly request: SipRequest;
  readonly tx: ServerTransaction;
  readonly stack: SipStack;
  readonly log: Logger;
  localContactFor(req: SipRequest): string;
}

/**
 * The A leg: our UAS side toward the caller. Provisional answers while legs ring (180 once, or
 * 183 with early media), one final answer (or the 487 of the caller's CANCEL, which the stack
 * sends), and our 2xx resent until the caller's ACK.
 */
export class CallerLeg {
  readonly toTag = newTag();
  /** Trying → Early (180/183, they carry our To tag) → Confirmed (2xx) or Terminated (a failure, the CANCEL). */
  private readonly machine = sessionStateMachine();
  private cancelledByCaller = false;
  private ringingSent = false;
  private earlyMediaSent = false;
  private retransmitter?: Invite2xxRetransmitter;

  constructor(private readonly host: CallerLegHost) {}

  /** The caller has its final answer (or gets the 487 of its CANCEL): nothing more is answered. */
  get final(): boolean {
    return this.machine.is(SessionState.Confirmed, SessionState.Terminated);
  }

  get state(): SessionState {
    return this.machine.state;
  }

  get cancelled(): boolean {
    return this.cancelledByCaller;
  }

  /** Answers the INVITE; undefined once a final answer went out. */
  respond(status: number, reason?: string, body?: Buffer, headers: Record<string, string> = {}): SipResponse | undefined {
    if (this.final) return undefined;
    const req = this.host.request;
    const hdrs: Record<string, string> = { ...headers };
    if (status < 300) {
      hdrs['Contact'] = this.host.localContactFor(req);
      // RFC 3891 §6: a phone may later take this dialog over with INVITE/Replaces.
      hdrs['Supported'] = 'replaces';
    }
    const res = createResponse(req, status, reason, {
      toTag: this.toTag, headers: hdrs, body, contentType: body && body.length ? 'application/sdp' : undefined,
    });
    const next = status < 200 ? SessionState.Early : status < 300 ? SessionState.Confirmed : SessionState.Terminated;
    if (this.machine.state !== next) this.machine.to(next);
    try {
      this.host.tx.respond(res);
    } catch (err) {
      this.host.log.debug({ err }, 'response to caller failed');
    }
    return res;
  }

  /** A leg rings: the caller hears its early media (183), or ringing (180) once unless early media came first. */
  alert(sdp: string | undefined): void {
    if (this.final || this.cancelledByCaller) return;
    if (sdp !== undefined) {
      this.earlyMediaSent = true;
      this.respond(183, undefined, Buffer.from(sdp, 'utf8'));
    } else if (!this.ringingSent && !this.earlyMediaSent) {
      this.ringingSent = true;
      this.respond(180);
    }
  }

  /** The caller's CANCEL: `stopLegs` runs, then the stack sends the 487 (RFC 3261 §9.2). */
  cancel(stopLegs: () => void): void {
    this.cancelledByCaller = true;
    stopLegs();
    // A leg's failure while stopping may have answered already (respond checks `final`).
    if (!this.final) this.machine.to(SessionState.Terminated);
  }

  /** Our dialog with the caller, once its INVITE is answered. */
  dialog(): Dialog {
    const req = this.host.request;
    return Dialog.asUas(req, { localTag: this.toTag, localContact: this.host.localContactFor(req), flow: req.source });
  }

  /** Our 2xx `res`, resent until the caller's ACK (UDP); `onTimeout` when none comes. */
  resendUntilAck(res: SipResponse, onTimeout: () => void): void {
    const source = this.host.request.source;
    if (source?.transport === 'udp') this.retransmitter = retransmit2xxUntilAck(this.host.stack, res, source, onTimeout);
  }

  /** The caller ACKed, its dialog left the call, or the call ended: no more resending. */
  stopResending(): void {
    this.retransmitter?.stop();
  }

  /**
   * The caller's phone's dialog as it sees it (BLF), when it has one: it heard ringing or early
   * media, or was answered; none after its CANCEL.
   */
  phoneDialog(callId: string, account: string, answered: boolean, remote: CallParty, since: number): PhoneDialog | undefined {
    if (this.cancelledByCaller || (!answered && !this.ringingSent && !this.earlyMediaSent)) return undefined;
    const req = this.host.request;
    return {
      callId, account, sipCallId: req.callId, localTag: req.from.params['tag'] ?? '',
      remoteTag: this.toTag, direction: 'initiator', state: answered ? 'confirmed' : 'early', remote, since,
    };
  }
}
