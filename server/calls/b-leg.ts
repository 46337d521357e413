import type { Logger } from 'pino';
import { Dialog } from '../sip/index.ts';
import { newBranch, type Endpoint, type SipRequest, type SipResponse } from '../sip/index.ts';
import { formatHost } from '../sip/index.ts';
import type { NameAddr } from '../sip/index.ts';
import type { SipStack } from '../sip/index.ts';
import type { ClientTransaction } from '../sip/index.ts';
import type { SipUri } from '../sip/index.ts';
import type { DialLeg } from './dial-string.ts';
import { isBetterFailure } from './failure-ranking.ts';
import type { LegFailure, LegHandle, LegObserver } from './forking.ts';

/** One INVITE the B2BUA sends for a leg: a registered binding or a sip: URI. */
export interface BranchTarget {
  requestUri: SipUri;
  /** Where to send (binding source for NATed phones, resolved URI host otherwise). */
  flow: Endpoint;
  /** Label for logs and CDRs. */
  label: string;
}

export interface BranchContext {
  stack: SipStack;
  logger: Logger;
  localContact(kind: Endpoint['transport']): string;
  /** A 2xx went out-of-transaction: remember the ACK so retransmitted 2xx are ACKed again. */
  rememberAck(callId: string, ack: SipRequest, flow: Endpoint): void;
  forgetAck(callId: string): void;
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

/** UAC side of one INVITE (§13.2). The first 2xx makes a dialog; a 2xx after cancel is ACKed and BYEd. */
export class UacBranch {
  dialog?: Dialog;
  answer?: SipResponse;
  private tx?: ClientTransaction;
  private invite?: SipRequest;
  private cancelled = false;
  private finished = false;
  private deferAck = false;
  private ackPending = false;

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
    this.tx = this.ctx.stack.sendRequest(invite, {
      target: this.target.flow,
      handler: {
        onProvisional: (res) => {
          if (!this.finished && !this.cancelled) this.events.provisional(this, res);
        },
        onFinal: (res) => this.onFinal(res),
        onTimeout: () => this.fail({ status: 408, reason: 'No answer from target' }),
        onTransportError: (err) => this.fail({ status: 503, reason: `Transport error: ${err.message}` }),
      },
    });
  }

  get callId(): string | undefined {
    return this.invite?.callId;
  }

  cancel(): void {
    if (this.cancelled || this.finished) return;
    this.cancelled = true;
    this.tx?.cancel();
  }

  /** The ACK held back by `deferAck`, with the SDP answer the 2xx's offer asked for. */
  sendDeferredAck(sdp?: Buffer): void {
    const d = this.dialog;
    if (!d || !this.ackPending || !this.invite) return;
    this.ackPending = false;
    const ack = d.createAck(this.invite.cseq.seq, sdp && sdp.length ? { body: sdp, contentType: 'application/sdp' } : {});
    sendAck(this.ctx.stack, ack, d.flow);
    this.ctx.rememberAck(d.callId, ack, d.flow);
  }

  /** Ends an established branch with BYE (sent to the dialog's flow). */
  bye(headers: Array<[string, string]> = []): void {
    const d = this.dialog;
    if (!d || d.terminated) return;
    // A held-back ACK goes first (without an answer: the session is being torn down anyway).
    this.sendDeferredAck();
    d.terminated = true;
    this.ctx.forgetAck(d.callId);
    const bye = d.createRequest('BYE', { headers });
    this.ctx.stack.sendRequest(bye, { target: d.flow });
  }

  private onFinal(res: SipResponse): void {
    if (res.status >= 200 && res.status < 300) {
      const invite = this.invite!;
      const dialog = Dialog.asUac(invite, res, { flow: this.target.flow, localContact: invite.headers.get('Contact') ?? '' });
      this.dialog = dialog;
      this.answer = res;
      if (this.deferAck && !this.cancelled && !this.finished) {
        this.ackPending = true;
        this.finished = true;
        this.events.answered(this, res);
        return;
      }
      const ack = dialog.createAck(invite.cseq.seq);
      sendAck(this.ctx.stack, ack, dialog.flow);
      this.ctx.rememberAck(dialog.callId, ack, dialog.flow);
      if (this.cancelled || this.finished) {
        // §15: the 200 crossed our CANCEL; the dialog exists now and must be torn down.
        this.bye([['Reason', 'SIP;cause=200;text="Call completed elsewhere"']]);
        return;
      }
      this.finished = true;
      this.events.answered(this, res);
      return;
    }
    const contacts = res.status >= 300 && res.status < 400 ? res.headers.getAll('Contact') : undefined;
    this.fail({ status: res.status, reason: res.reason, redirectTargets: contacts });
  }

  private fail(failure: LegFailure): void {
    if (this.finished) return;
    this.finished = true;
    this.events.failed(this, failure);
  }
}

/**
 * The LegHandle of one dial-string leg. A `user@local` leg rings every binding of the account at
 * once (one branch each); the first branch to answer wins the leg and the others are cancelled.
 */
export class OutboundLeg implements LegHandle {
  readonly branches: UacBranch[] = [];
  winner?: UacBranch;
  private failedCount = 0;
  private best?: LegFailure;
  private cancelled = false;
  private ringingSent = false;

  constructor(
    readonly leg: DialLeg,
    private readonly observer: LegObserver,
    private readonly hooks: { earlyMedia(branch: UacBranch, res: SipResponse): string | undefined },
  ) {}

  addBranch(ctx: BranchContext, target: BranchTarget): UacBranch {
    const b = new UacBranch(ctx, target, {
      provisional: (branch, res) => this.onProvisional(branch, res),
      answered: (branch, res) => this.onAnswered(branch, res),
      failed: (branch, failure) => this.onFailed(failure),
    });
    this.branches.push(b);
    return b;
  }

  cancel(): void {
    this.cancelled = true;
    for (const b of this.branches) if (b !== this.winner) b.cancel();
  }

  /** Reports a failure before any branch started (no bindings, unknown provider…). */
  failNow(failure: LegFailure): void {
    this.observer.failed(failure);
  }

  private onProvisional(branch: UacBranch, res: SipResponse): void {
    if (res.status === 100 || this.cancelled || this.winner) return;
    const sdp = res.body.length ? this.hooks.earlyMedia(branch, res) : undefined;
    if (sdp !== undefined) this.observer.progress(sdp);
    else if (!this.ringingSent) {
      this.ringingSent = true;
      this.observer.ringing();
    }
  }

  private onAnswered(branch: UacBranch, res: SipResponse): void {
    if (this.winner || this.cancelled) {
      branch.bye([['Reason', 'SIP;cause=200;text="Call completed elsewhere"']]);
      return;
    }
    this.winner = branch;
    for (const b of this.branches) if (b !== branch) b.cancel();
    this.observer.answered({ sdp: res.body.length ? res.body.toString('utf8') : undefined });
  }

  private onFailed(failure: LegFailure): void {
    this.failedCount++;
    if (isBetterFailure(failure.status, this.best?.status)) this.best = failure;
    if (this.failedCount === this.branches.length && !this.winner) this.observer.failed(this.best!);
  }
}

/**
 * ACK for a 2xx is its own transaction-less request (§13.2.2.4): sent statelessly, so the Via
 * the stack would add in a transaction is added here.
 */
export function sendAck(stack: SipStack, ack: SipRequest, flow: Endpoint): void {
  if (!ack.headers.has('Via')) {
    const local = stack.localAddressFor(flow.transport);
    const host = local ? `${formatHost(local.host)}:${local.port}` : '127.0.0.1';
    ack.headers.prepend('Via', `SIP/2.0/${flow.transport.toUpperCase()} ${host};branch=${newBranch()};rport`);
  }
  stack.sendStateless(ack, flow);
}
