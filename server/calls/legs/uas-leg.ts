import type { Logger } from 'pino';
import { createResponse, Dialog, newTag, retransmit2xxUntilAck, type Invite2xxRetransmitter, type SipRequest, type SipResponse } from '../../sip/index.ts';
import type { ServerTransaction, SipStack } from '../../sip/index.ts';
import type { PhoneDialog } from '../phone-dialog.ts';
import type { CallParty } from '../records/index.ts';
import { sortInDialog, type DialogLeg, type LegEndReason, type LegOwner } from './leg-events.ts';
import { SessionState, sessionStateMachine } from './session-state.ts';

/** The INVITE a UAS leg answers, and what answering it needs (the Call implements it for its caller). */
export interface UasLegHost {
  readonly request: SipRequest;
  readonly tx: ServerTransaction;
  readonly stack: SipStack;
  readonly log: Logger;
  localContactFor(req: SipRequest): string;
}

/**
 * Our UAS side toward a phone that sent us an INVITE: the caller, a phone picking a ringing call
 * up, or one taking a side over (INVITE/Replaces, a dial of a park slot). Provisional answers while
 * legs ring (180 once, or 183 with early media), one final answer (or the 487 of the caller's
 * CANCEL, which the stack sends); a 2xx makes the dialog, resent until the phone's ACK, whose
 * requests then go to the leg's owner until a BYE either way.
 */
export class UasLeg implements DialogLeg {
  readonly toTag = newTag();
  /** Trying → Early (180/183, they carry our To tag) → Confirmed (2xx) → Terminated (BYE), or Terminated at once (a failure, the CANCEL). */
  private readonly machine = sessionStateMachine();
  private cancelledByCaller = false;
  private ringingSent = false;
  private earlyMediaSent = false;
  private retransmitter?: Invite2xxRetransmitter;
  private confirmed?: Dialog;
  private owner?: LegOwner;
  sentSdp?: Buffer;
  held = false;

  constructor(private readonly host: UasLegHost) {}

  /** The phone has its final answer (or gets the 487 of its CANCEL): nothing more is answered. */
  get final(): boolean {
    return this.machine.is(SessionState.Confirmed, SessionState.Terminated);
  }

  get state(): SessionState {
    return this.machine.state;
  }

  get cancelled(): boolean {
    return this.cancelledByCaller;
  }

  /** Our dialog with the phone; only an answered leg is a bridge party, so asking earlier is a bug. */
  get dialog(): Dialog {
    if (!this.confirmed) throw new Error('UasLeg: the INVITE is not answered');
    return this.confirmed;
  }

  /** A provisional or failure answer to the INVITE; undefined once a final answer went out. A 2xx is `answer`'s. */
  respond(status: number, reason?: string, body?: Buffer, headers: Record<string, string> = {}): SipResponse | undefined {
    if (status >= 200 && status < 300) throw new Error('UasLeg.respond: a 2xx is sent by answer()');
    return this.send(status, reason, body, headers);
  }

  /**
   * Answers the INVITE 200 with `sdp`: the dialog is confirmed and our 2xx is resent until the
   * phone's ACK (UDP); `onNoAck` when none comes. Undefined when a final answer went out already.
   */
  answer(sdp: Buffer | undefined, onNoAck: () => void): SipResponse | undefined {
    const res = this.send(200, 'OK', sdp, {});
    if (!res) return undefined;
    const req = this.host.request;
    this.confirmed = Dialog.asUas(req, { localTag: this.toTag, localContact: this.host.localContactFor(req), flow: req.source });
    this.sentSdp = sdp?.length ? sdp : undefined;
    if (req.source?.transport === 'udp') this.retransmitter = retransmit2xxUntilAck(this.host.stack, res, req.source, onNoAck);
    return res;
  }

  private send(status: number, reason: string | undefined, body: Buffer | undefined, headers: Record<string, string>): SipResponse | undefined {
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
      this.host.log.debug({ err }, 'response to the phone failed');
    }
    return res;
  }

  /** A leg rings: the caller hears its early media (183), or ringing (180) once unless early media came first. */
  alert(sdp: string | undefined): void {
    if (this.final || this.cancelledByCaller) return;
    if (sdp !== undefined) {
      this.earlyMediaSent = true;
      this.send(183, undefined, Buffer.from(sdp, 'utf8'), {});
    } else if (!this.ringingSent && !this.earlyMediaSent) {
      this.ringingSent = true;
      this.send(180, undefined, undefined, {});
    }
  }

  /** The caller's CANCEL: `stopLegs` runs, then the stack sends the 487 (RFC 3261 §9.2). */
  cancel(stopLegs: () => void): void {
    this.cancelledByCaller = true;
    stopLegs();
    // A leg's failure while stopping may have answered already (send checks `final`).
    if (!this.final) this.machine.to(SessionState.Terminated);
  }

  attach(owner: LegOwner): void {
    this.owner = owner;
  }

  detach(owner: LegOwner): void {
    if (this.owner === owner) this.owner = undefined;
  }

  receive(req: SipRequest, tx: ServerTransaction | undefined): void {
    if (req.method === 'ACK' && req.cseq.seq === this.host.request.cseq.seq) this.release();
    sortInDialog(this.dialog, this.owner, req, tx, () => this.end('bye-received'));
  }

  bye(headers: Array<[string, string]> = []): void {
    this.release();
    const dialog = this.confirmed;
    if (!dialog || dialog.terminated) return;
    dialog.terminated = true;
    this.end('bye-sent');
    this.host.stack.sendRequest(dialog.createRequest('BYE', { headers }), { target: dialog.flow });
  }

  /** Our 2xx is resent no more: the phone ACKed, or the call is done with the leg (ended, or handed it to another call). */
  release(): void {
    this.retransmitter?.stop();
    this.retransmitter = undefined;
  }

  private end(reason: LegEndReason): void {
    // The dialog is over either way (a BYE may overtake a lost ACK): nothing more is resent.
    this.release();
    if (!this.machine.can(SessionState.Terminated)) return;
    this.machine.to(SessionState.Terminated);
    this.owner?.terminated?.(reason);
  }

  /**
   * The phone's dialog as it sees it (BLF), when it has one: it heard ringing or early media, or
   * was answered; none after its CANCEL.
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
