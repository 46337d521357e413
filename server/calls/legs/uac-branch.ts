import type { Logger } from 'pino';
import { Dialog } from '../../sip/index.ts';
import { InviteAnswers, reasonHeader, sendAck, type Endpoint, type ServerTransaction, type SipRequest, type SipResponse } from '../../sip/index.ts';
import type { NameAddr } from '../../sip/index.ts';
import type { SipStack } from '../../sip/index.ts';
import type { ClientTransaction, TimerHandle } from '../../sip/index.ts';
import type { ClientCredentials, SipUri } from '../../sip/index.ts';
import type { LegFailure } from '../dial/index.ts';
import { sortInDialog, type LegEndReason, type LegOwner } from './leg-events.ts';
import { SessionState, sessionStateMachine } from './session-state.ts';

/** One INVITE the B2BUA sends for a leg: a registered binding or a sip: URI. */
export interface BranchTarget {
  requestUri: SipUri;
  /** Where to send (binding source for NATed phones, resolved URI host otherwise). */
  flow: Endpoint;
  /** Label for logs and CDRs. */
  label: string;
  /** A provider's trunk account: its 401/407 challenges are answered, in and after the INVITE. */
  credentials?: ClientCredentials;
  /**
   * Give up on this target when nothing (not even 100 Trying) came back within this many ms,
   * instead of waiting Timer B (32 s): Kamailio's fr_timer, so a silent UDP server fails over fast.
   */
  provisionalTimeoutMs?: number;
}

export interface BranchContext {
  stack: SipStack;
  logger: Logger;
  localContact(kind: Endpoint['transport']): string;
  /** A 2xx went out-of-transaction: remember the ACK so retransmitted 2xx are ACKed again. */
  rememberAck(callId: string, ack: SipRequest, flow: Endpoint): void;
  forgetAck(callId: string): void;
  /** The SIP Call-ID of a new branch, before its INVITE goes out (the SIP trace attributes messages by it). */
  claimSipCallId?(sipCallId: string, label: string): void;
}

export interface BranchRequest {
  from: NameAddr;
  to: NameAddr;
  sdp?: Buffer;
  headers: Array<[string, string]>;
  maxForwards?: number;
  /**
   * Late-offer 3PCC (RFC 3725 flow I): the INVITE has no SDP, the 2xx carries the offer, and the
   * ACK (with the answer) is sent later by `sendDeferredAck`.
   */
  deferAck?: boolean;
}

/**
 * UAC side of one INVITE (§13.2). The first 2xx makes a dialog; a 2xx after cancel is ACKed and
 * BYEd. Later 2xx (RFC 6026 Accepted) are InviteAnswers': the same ACK again, or ACK and BYE for
 * another fork's dialog. Until its final response the branch reports to its OutboundLeg (`events`);
 * the requests of its confirmed dialog go to the owner it is attached to (its call's bridge).
 */
export class UacBranch {
  dialog?: Dialog;
  /** The 2xx that answered, until its SDP went where it had to (`releaseAnswer`). */
  answer?: SipResponse;
  /** The SDP we sent: the INVITE's offer, or the answer in a held-back ACK. */
  sentSdp?: Buffer;
  private tx?: ClientTransaction;
  private invite?: SipRequest;
  private answers?: InviteAnswers;
  private readonly machine = sessionStateMachine();
  private cancelled = false;
  private deferAck = false;
  private ackPending = false;
  private silenceTimer?: TimerHandle;
  private earlyRemoteTag?: string;
  private owner?: LegOwner;

  constructor(
    private readonly ctx: BranchContext,
    readonly target: BranchTarget,
    private readonly events: {
      provisional(branch: UacBranch, res: SipResponse): void;
      answered(branch: UacBranch, res: SipResponse): void;
      failed(branch: UacBranch, failure: LegFailure): void;
    },
  ) {}

  start(req: BranchRequest): void {
    this.deferAck = req.deferAck === true;
    this.sentSdp = req.sdp?.length ? req.sdp : undefined;
    const invite = Dialog.newInvite({
      requestUri: this.target.requestUri,
      from: req.from,
      to: req.to,
      localContact: this.ctx.localContact(this.target.flow.transport),
      callIdHost: this.ctx.stack.localAddressFor(this.target.flow.transport)?.host ?? 'patchbay',
      body: req.sdp,
      contentType: 'application/sdp',
      headers: req.headers,
      maxForwards: req.maxForwards,
    });
    this.invite = invite;
    const answers = new InviteAnswers(invite, { stack: this.ctx.stack, flow: this.target.flow, logger: this.ctx.logger });
    this.answers = answers;
    this.ctx.claimSipCallId?.(invite.callId, this.target.label);
    this.tx = this.ctx.stack.sendRequest(invite, {
      target: this.target.flow,
      credentials: this.target.credentials,
      handler: {
        onProvisional: (res) => {
          this.stopSilenceTimer();
          this.advanceOnProvisional(res);
          if (!this.over && !this.cancelled) this.events.provisional(this, res);
        },
        onFinal: (res) => {
          this.stopSilenceTimer();
          this.onFinal(res);
        },
        onAccepted2xx: answers.receive.bind(answers),
        onTimeout: () => this.fail({ status: 408, reason: 'No answer from target' }),
        onTransportError: (err) => this.fail({ status: 503, reason: `Transport error: ${err.message}` }),
      },
    });
    const silence = this.target.provisionalTimeoutMs;
    if (silence !== undefined && silence > 0) this.silenceTimer = this.ctx.stack.wheel.schedule(silence, () => this.onSilence(silence));
  }

  /** Nothing heard from the target in time: stop retransmitting, fail (the leg tries its next target). */
  private onSilence(ms: number): void {
    this.silenceTimer = undefined;
    if (!this.machine.is(SessionState.Trying)) return;
    this.tx?.stopRetransmitting?.();
    // As cancelled: a late provisional gets CANCEL, a late 2xx ACK and BYE (§9.1, §15).
    this.cancel();
    this.fail({ status: 408, reason: `No response from target within ${ms} ms` });
  }

  private stopSilenceTimer(): void {
    if (this.silenceTimer === undefined) return;
    this.ctx.stack.wheel.cancel(this.silenceTimer);
    this.silenceTimer = undefined;
  }

  get state(): SessionState {
    return this.machine.state;
  }

  /** A final outcome was reported (answered or failed). */
  private get over(): boolean {
    return this.machine.is(SessionState.Confirmed, SessionState.Terminated);
  }

  private advanceOnProvisional(res: SipResponse): void {
    const tag = res.to.params['tag'];
    if (res.status > 100 && tag) this.earlyRemoteTag ??= tag;
    const next = res.status > 100 && res.to.params['tag'] ? SessionState.Early : SessionState.Proceeding;
    if (this.machine.state !== next && this.machine.can(next)) this.machine.to(next);
  }

  get callId(): string | undefined {
    return this.invite?.callId;
  }

  /** Our From tag on this branch's INVITE. */
  get localTag(): string | undefined {
    return this.invite?.from.params['tag'] ?? undefined;
  }

  /** The callee's To tag: of the confirmed dialog, else of its first 18x (the early dialog). */
  get remoteTag(): string | undefined {
    return this.dialog?.remoteTag ?? this.earlyRemoteTag;
  }

  cancel(): void {
    if (this.cancelled || this.over) return;
    this.cancelled = true;
    this.tx?.cancel();
  }

  /** The ACK held back by `deferAck`, with the SDP answer the 2xx's offer asked for. */
  sendDeferredAck(sdp?: Buffer): void {
    const d = this.dialog;
    if (!d || !this.ackPending || !this.invite) return;
    this.ackPending = false;
    if (sdp?.length) this.sentSdp = sdp;
    const ack = d.createAck(this.invite.cseq.seq, sdp && sdp.length ? { body: sdp, contentType: 'application/sdp' } : {});
    sendAck(this.ctx.stack, ack, d.flow);
    this.answers?.acked(ack);
    this.ctx.rememberAck(d.callId, ack, d.flow);
  }

  attach(owner: LegOwner): void {
    this.owner = owner;
  }

  detach(owner: LegOwner): void {
    if (this.owner === owner) this.owner = undefined;
  }

  /** A request inside the branch's confirmed dialog. */
  receive(req: SipRequest, tx: ServerTransaction | undefined): void {
    const d = this.dialog;
    if (!d) return;
    sortInDialog(d, this.owner, req, tx, () => {
      // The far end hung up: retransmitted 2xx of a finished dialog need no ACK from us any more.
      this.ctx.forgetAck(d.callId);
      this.end('bye-received');
    });
  }

  /** Ends an established branch with BYE (sent to the dialog's flow). */
  bye(headers: Array<[string, string]> = []): void {
    const d = this.dialog;
    if (!d || d.terminated) return;
    // A held-back ACK goes first (without an answer: the session is being torn down anyway).
    this.sendDeferredAck();
    d.terminated = true;
    this.end('bye-sent');
    this.ctx.forgetAck(d.callId);
    const bye = d.createRequest('BYE', { headers });
    this.ctx.stack.sendRequest(bye, { target: d.flow });
  }

  /** The answer was relayed: a bridged call holds its dialog, not the 200 (and the raw message its headers point into). */
  releaseAnswer(): void {
    this.answer = undefined;
  }

  private onFinal(res: SipResponse): void {
    if (res.status >= 200 && res.status < 300) {
      const invite = this.invite!;
      const alreadyOver = this.over;
      if (!alreadyOver) this.machine.to(SessionState.Confirmed);
      const dialog = Dialog.asUac(invite, res, { flow: this.target.flow, localContact: invite.headers.get('Contact') ?? '' });
      this.dialog = dialog;
      this.answer = res;
      if (this.deferAck && !this.cancelled && !alreadyOver) {
        this.ackPending = true;
        this.answers?.answered(res);
        this.events.answered(this, res);
        return;
      }
      const ack = dialog.createAck(invite.cseq.seq);
      sendAck(this.ctx.stack, ack, dialog.flow);
      this.answers?.answered(res, ack);
      this.ctx.rememberAck(dialog.callId, ack, dialog.flow);
      if (this.cancelled || alreadyOver) {
        // §15: the 200 crossed our CANCEL; the dialog exists now and must be torn down.
        this.bye([reasonHeader(200, 'Call completed elsewhere')]);
        return;
      }
      this.events.answered(this, res);
      return;
    }
    const contacts = res.status >= 300 && res.status < 400 ? res.headers.getAll('Contact') : undefined;
    this.fail({ status: res.status, reason: res.reason, redirectTargets: contacts });
  }

  private fail(failure: LegFailure): void {
    this.stopSilenceTimer();
    if (this.over) return;
    this.end(this.cancelled ? 'cancelled' : 'failed');
    this.events.failed(this, failure);
  }

  private end(reason: LegEndReason): void {
    if (!this.machine.can(SessionState.Terminated)) return;
    this.machine.to(SessionState.Terminated);
    this.owner?.terminated?.(reason);
  }
}
