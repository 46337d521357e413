import { randomUUID } from 'node:crypto';
import { CallState, callStateMachine } from './call-state.ts';
import type { ControlResult, LiveCallView } from './control/index.ts';
import type { TenantRef } from '../registrar/index.ts';
import { dialogKey, reasonHeader } from '../sip/index.ts';
import { createResponse, type SipRequest, type SipResponse } from '../sip/index.ts';
import type { NameAddr } from '../sip/index.ts';
import type { ServerTransaction } from '../sip/index.ts';
import { CallDialogs, OutboundLeg, uacParty, type BranchContext, type DialogRegistry, type UacBranch } from './legs/index.ts';
import { recordCallEnd } from './records/index.ts';
import type { CallParty, CdrLeg, HangupSide } from './records/index.ts';
import type { CallAccount, CallServiceOptions, SipCallOwner } from './call-service-deps.ts';
import { parseDialString, type DialPlan } from './dial/index.ts';
import { LegBudget, startFork, type DialOutcome, type ForkExecution, type LegOutcome } from './dial/index.ts';
import { resolveLeg } from './dial/index.ts';
import { Bridge, rejectAllMedia, rewriteSdpForNat, type BridgeSide } from './bridge/index.ts';
import type { CallbackResult } from './dialplan/index.ts';

export interface CallbackParams {
  tenant: TenantRef;
  /** The account whose dialplan asked for the callback: its identity goes in From. */
  account: CallAccount;
  dest1: string;
  dest2: string;
  /** The call whose dialplan ran sys.Callback (logs); none for a click-to-call from the API. */
  parentCallId?: string;
}

export interface CallbackContext extends BranchContext, DialogRegistry<CallbackCall> {
  opts: CallServiceOptions;
  callEnded(call: CallbackCall): void;
  /** Which call (and leg) a SIP Call-ID belongs to, for the SIP trace. */
  claimCallSipCallId?(sipCallId: string, owner: SipCallOwner): void;
}

/**
 * dest2 rings at most this long: dest1 has answered and waits for our ACK, and a UAS gives up
 * on a 2xx without ACK after Timer H (64·T1 = 32 s).
 */
export const CALLBACK_SECOND_RING_SECONDS = 30;
const DEST1_RING_SECONDS = 60;

/**
 * `sys.Callback(dest1, dest2)`: a call the switch places itself (SIPSorcery semantics), with no
 * caller-side transaction. Late-offer 3PCC, RFC 3725 flow I:
 *   INVITE dest1 (no SDP) → 200 (offer O) · INVITE dest2 (O) → 200 (answer A) · ACK dest2 ·
 *   ACK dest1 (A).
 * dest1 hears nothing while dest2 rings; dest2's ring time is capped below Timer H so dest1
 * never gives up on its 2xx. If dest2 fails, dest1 gets its ACK (media rejected) and a BYE.
 * Legs are resolved like Dial legs, except that a local account's bindings are rung directly
 * (no incoming dialplan runs for a callback). Once both answered the two dialogs are bridged
 * like any call: BYE on one side ends both; re-INVITE/UPDATE/INFO are relayed.
 */
export class CallbackCall {
  readonly id = randomUUID();
  readonly tenant: TenantRef;
  readonly direction = 'outbound' as const;
  readonly dialplanName = undefined;
  readonly createdAt = Date.now();
  private readonly machine = callStateMachine();

  get state(): CallState {
    return this.machine.state;
  }
  private first?: UacBranch;
  private second?: UacBranch;
  private bridge?: Bridge;
  private fork?: ForkExecution<OutboundLeg>;
  private readonly budget = new LegBudget(10);
  private readonly cdrLegs: CdrLeg[] = [];
  /** dest1's dialog is side a, dest2's side b (legs/call-dialogs.ts). */
  private readonly dialogs: CallDialogs<CallbackCall>;
  private ringingAt?: number;
  private answeredAt?: number;
  private branchCtx?: BranchContext;

  constructor(private readonly ctx: CallbackContext, private readonly params: CallbackParams) {
    this.tenant = params.tenant;
    this.dialogs = new CallDialogs<CallbackCall>(ctx, this);
  }

  get caller(): CallParty {
    return { uri: this.params.dest1, account: this.params.account.username };
  }

  get callee(): CallParty {
    return { uri: this.params.dest2 };
  }

  /** The shared context, plus claiming each branch's SIP Call-ID for this call (SIP trace). */
  private get branchContext(): BranchContext {
    const claim = this.ctx.claimCallSipCallId;
    if (!claim) return this.ctx;
    return this.branchCtx ??= {
      ...this.ctx,
      claimSipCallId: (sipCallId, label) => claim(sipCallId, { tenantId: this.tenant.id, callId: this.id, leg: 'b', legTarget: label }),
    };
  }

  private get log() {
    return this.ctx.opts.logger.child({ callId: this.id, tenantId: this.tenant.id, parentCallId: this.params.parentCallId });
  }

  /** Places the call; resolves when both ends are bridged or the attempt failed. */
  async run(): Promise<CallbackResult> {
    const vars = { dst: '', fromName: '', fromUriUser: this.params.account.username };
    let plan1: DialPlan;
    let plan2: DialPlan;
    try {
      plan1 = parseDialString(this.params.dest1, vars);
      plan2 = parseDialString(this.params.dest2, vars);
    } catch (err) {
      throw new Error(`Callback: ${(err as Error).message}`);
    }
    this.ctx.opts.emit({
      type: 'call.created', tenantId: this.tenant.id, callId: this.id, at: this.createdAt,
      direction: this.direction, caller: this.caller, callee: this.callee,
    });
    const account = this.params.account;
    this.ctx.opts.emit({ type: 'call.party.joined', tenantId: this.tenant.id, callId: this.id, at: Date.now(), accountId: account.id, account: account.username, role: 'caller' });
    const one = await this.dialOne(plan1, undefined, DEST1_RING_SECONDS);
    if (this.isEnded()) {
      one.branch?.bye([reasonHeader(503, 'Service shutting down')]);
      return { answered: false, status: 503, reason: 'Service Unavailable' };
    }
    if (!one.branch) return this.fail(one.status, one.reason, one.outcome);
    this.first = one.branch;
    const offer = one.branch.answer?.body.length ? one.branch.answer : undefined;
    if (!offer) {
      one.branch.bye([reasonHeader(488, 'No SDP offer in 2xx')]);
      return this.fail(488, 'dest1 answered without an SDP offer', 'failed');
    }
    const offerSdp = rewriteFrom(offer);
    const two = await this.dialOne(plan2, Buffer.from(offerSdp, 'utf8'), CALLBACK_SECOND_RING_SECONDS);
    if (this.isEnded()) {
      one.branch.sendDeferredAck(Buffer.from(rejectAllMedia(offerSdp), 'utf8'));
      one.branch.bye();
      two.branch?.bye();
      return { answered: false, status: 503, reason: 'Service Unavailable' };
    }
    if (!two.branch) {
      one.branch.sendDeferredAck(Buffer.from(rejectAllMedia(offerSdp), 'utf8'));
      one.branch.bye([reasonHeader(two.status, two.reason)]);
      return this.fail(two.status, two.reason, two.outcome);
    }
    this.second = two.branch;
    const answer = two.branch.answer!;
    one.branch.sendDeferredAck(answer.body.length ? Buffer.from(rewriteFrom(answer), 'utf8') : undefined);
    this.machine.to(CallState.Answered);
    this.answeredAt = Date.now();
    this.bridge = new Bridge(
      {
        stack: this.ctx.stack, mangleSdp: true,
        events: {
          bye: (side) => this.hangup(side === 'a' ? 'caller' : 'callee', 200, 'Normal clearing'),
          // A callback's legs come from the dialplan author's Callback() call, which has no per-leg policy.
          refer: (_side, req, tx) => tx.respond(createResponse(req, 603, 'Transfers are disabled on this call')),
        },
      },
      uacParty(one.branch),
      uacParty(two.branch),
    );
    this.dialogs.add('a', dialogKey(one.branch.dialog!.id));
    this.dialogs.add('b', dialogKey(two.branch.dialog!.id));
    this.ctx.opts.emit({
      type: 'call.answered', tenantId: this.tenant.id, callId: this.id, at: this.answeredAt, legId: this.cdrLegs.length,
      caller: this.caller, callee: this.callee, direction: this.direction,
    });
    return { answered: true, status: 200, reason: 'OK' };
  }

  private async dialOne(plan: DialPlan, sdp: Buffer | undefined, ringSeconds: number):
    Promise<{ branch?: UacBranch; status: number; reason: string; outcome: DialOutcome }> {
    const account = this.params.account;
    const from: NameAddr = { uri: { scheme: 'sip', user: account.username, host: this.tenant.domain, params: {}, headers: {} }, params: {} };
    const fork = startFork<OutboundLeg>({
      plan,
      ringTimeoutSeconds: ringSeconds,
      legBudget: this.budget,
      starter: {
        start: (leg, observer) => {
          const out = new OutboundLeg(leg, observer, { earlyMedia: () => undefined });
          let cancelled = false;
          const cancel = out.cancel.bind(out);
          out.cancel = () => { cancelled = true; cancel(); };
          void resolveLeg(leg, { opts: this.ctx.opts, tenant: this.tenant, callId: this.id, accountId: account.id }).then((r) => {
            if (cancelled) return;
            if (r.kind !== 'branches') {
              observer.failed(r.kind === 'failure' ? r.failure : { status: 500, reason: 'Unexpected leg kind' });
              return;
            }
            const headers: Array<[string, string]> = leg.options.customHeaders.map((h): [string, string] => [h.name, h.value]);
            const legFrom: NameAddr = {
              displayName: leg.options.fromDisplayName,
              uri: { ...from.uri, user: leg.options.fromUser ?? from.uri.user, host: leg.options.fromHost ?? from.uri.host },
              params: {},
            };
            const shaped = r.shape ? r.shape({ from: legFrom, headers }) : { from: legFrom, headers };
            const request = { ...shaped, to: r.to, sdp, deferAck: sdp === undefined };
            if (r.inTurn) out.startInTurn(this.branchContext, r.targets, request);
            else for (const t of r.targets) out.addBranch(this.branchContext, t).start(request);
          }, (err: Error) => { if (!cancelled) observer.failed({ status: 500, reason: err.message }); });
          return out;
        },
      },
      observer: {
        legRinging: (o) => this.legRinging(o),
        legProgress: (o) => this.legRinging(o),
      },
    });
    this.fork = fork;
    const result = await fork.result;
    this.fork = undefined;
    this.recordLegs(result.legs);
    if (result.answered && result.winner?.handle.winner) return { branch: result.winner.handle.winner, status: 200, reason: 'OK', outcome: 'answered' };
    return { status: result.status, reason: result.reason, outcome: result.outcome };
  }

  /** Hung up (shutdown) while a fork was running. A method so TS does not narrow `state` across awaits. */
  private isEnded(): boolean {
    return this.machine.is(CallState.Ended);
  }

  private legRinging(o: LegOutcome): void {
    const now = Date.now();
    this.ringingAt ??= now;
    this.ctx.opts.emit({ type: 'leg.ringing', tenantId: this.tenant.id, callId: this.id, at: now, legId: o.id + this.cdrLegs.length, target: o.key, earlyMedia: false });
  }

  private recordLegs(legs: LegOutcome[]): void {
    const offset = this.cdrLegs.length;
    for (const o of legs) {
      this.cdrLegs.push({
        legId: o.id + offset, groupIndex: o.groupIndex, parentLegId: o.parentId ? o.parentId + offset : undefined,
        target: o.key, state: o.state, status: o.status, reason: o.reason,
        startedAt: o.startedAt, ringingAt: o.ringingAt, answeredAt: o.answeredAt, endedAt: o.endedAt,
      });
    }
  }

  private fail(status: number, reason: string, outcome: DialOutcome): CallbackResult {
    this.end('system', status, reason, outcome);
    return { answered: false, status, reason };
  }

  /** A request inside one of the two dialogs (the CallService matched the dialog id). */
  handleInDialog(req: SipRequest, tx: ServerTransaction | undefined, side: BridgeSide): void {
    if (this.bridge && this.machine.is(CallState.Answered)) this.bridge.party(side).receive(req, tx);
    else if (req.method !== 'ACK') tx?.respond(createResponse(req, 481));
  }

  view(): LiveCallView {
    return {
      id: this.id, direction: this.direction, state: this.state, caller: this.caller, callee: this.callee,
      createdAt: this.createdAt, answeredAt: this.answeredAt, history: [],
    };
  }

  // A callback's two parties are both called by the switch; hold and transfer are for calls a person placed.
  hold(): Promise<ControlResult> {
    return Promise.resolve({ ok: false, status: 409, reason: 'A callback call cannot be held' });
  }

  unhold(): Promise<ControlResult> {
    return Promise.resolve({ ok: false, status: 409, reason: 'Nobody is on hold' });
  }

  transfer(): Promise<ControlResult> {
    return Promise.resolve({ ok: false, status: 409, reason: 'A callback call cannot be transferred' });
  }

  consultStart(): Promise<ControlResult> {
    return Promise.resolve({ ok: false, status: 409, reason: 'A callback call cannot be transferred' });
  }

  consultComplete(): Promise<ControlResult> {
    return Promise.resolve({ ok: false, status: 409, reason: 'No consult call in progress' });
  }

  consultCancel(): Promise<ControlResult> {
    return this.consultComplete();
  }

  park(): Promise<ControlResult> {
    return Promise.resolve({ ok: false, status: 409, reason: 'A callback call cannot be parked' });
  }

  /** Ends the call: BYE to every side that is still up. */
  hangup(by: HangupSide, status: number, reason: string): void {
    if (this.machine.is(CallState.Ended)) return;
    this.fork?.cancel();
    const headers = by === 'system' ? [reasonHeader(status, reason)] : [];
    this.first?.bye(headers);
    this.second?.bye(headers);
    this.end(by, status, reason, this.machine.is(CallState.Answered) ? 'answered' : 'cancelled');
  }

  private end(by: HangupSide, status: number, reason: string, outcome: DialOutcome): void {
    if (this.machine.is(CallState.Ended)) return;
    const wasAnswered = this.machine.is(CallState.Answered);
    this.machine.to(CallState.Ended);
    this.bridge?.close();
    this.dialogs.releaseAll();
    recordCallEnd({
      tenant: this.tenant, id: this.id, direction: this.direction, caller: this.caller, callee: this.callee,
      dialplan: undefined, dialStrings: [this.params.dest1, this.params.dest2], legs: [...this.cdrLegs], createdAt: this.createdAt,
      ringingAt: this.ringingAt, answeredAt: this.answeredAt, history: [],
    }, { by, status, reason, outcome, wasAnswered }, this.ctx.opts, this.log);
    this.ctx.callEnded(this);
  }
}

function rewriteFrom(msg: SipResponse): string {
  const sdp = msg.body.toString('utf8');
  return msg.source ? rewriteSdpForNat(sdp, msg.source).sdp : sdp;
}
