import { randomUUID } from 'node:crypto';
import { CallState, callStateMachine } from './call-state.ts';
import {
  CallConsult, controlSide, holdParty, unholdParty, type ConsultHost, type ControlParty, type ControlResult, type HoldState, type LiveCallView,
} from './control/index.ts';
import type { TenantRef } from '../registrar/index.ts';
import { Dialog, dialogKey, reasonHeader, retransmit2xxUntilAck, type Invite2xxRetransmitter } from '../sip/index.ts';
import { createResponse, newTag, type SipRequest, type SipResponse } from '../sip/index.ts';
import type { NameAddr } from '../sip/index.ts';
import { parseUri, type SipUri } from '../sip/index.ts';
import type { ServerTransaction } from '../sip/index.ts';
import type { TimerHandle } from '../sip/index.ts';
import type { DialplanRequest, RunResult, SandboxHost } from '../../sandbox/index.ts';
import { OutboundLeg, uacParty, uasParty, type BranchContext, type BranchRequest, type UacBranch } from './legs/index.ts';
import { Bridge, otherSide, rewriteSdpForNat, sendInDialog, type BridgeParty, type BridgeSide } from './bridge/index.ts';
import {
  blindTransfer, joinFarParties, takeOver, transferByDial, transferByDialplan, parseReferTo, referNotify, replacesDialogKeys, TRANSFER_DIALPLAN,
  type JoinableCall, type TakeoverHost, type ReferTarget, type TransferringCall,
} from './transfer/index.ts';
import { DeferredLeg, type BridgeableLeg } from './legs/index.ts';
import { CallParties, type PartyHold } from './legs/index.ts';
import type { AccountCallCounter } from './account-call-counter.ts';
import type { CallbackParams } from './callback-call.ts';
import { parseCallerId, type CallerId } from './legs/index.ts';
import { recordCallEnd } from './records/index.ts';
import type { PhoneDialog } from './phone-dialog.ts';
import { SessionState } from './legs/session-state.ts';
import { CallPark, type ParkHost, type ParkingLot } from './park/index.ts';
import { CallPickup, sandboxOutcome, type PickupHost } from './pickup/index.ts';
import type { CallDirection, CallParty, CdrHistoryItem, CdrLeg, HangupSide, TransferResult } from './records/index.ts';
import type { CallAccount, CallServiceOptions, SipCallOwner, StoredDialplan } from './call-service-deps.ts';
import { toDialplanRequest, uriText } from './dialplan/index.ts';
import { parseDialString, type DialLeg, type DialPlan } from './dial/index.ts';
import { LegBudget, startFork, type DialOutcome, type DialResult, type ForkExecution, type LegObserver, type LegOutcome } from './dial/index.ts';
import { resolveLeg } from './dial/index.ts';
import { LegSettings } from './dialplan/index.ts';
import { LocalDialplanLeg, type LegScope, type LocalDialplanHost } from './dialplan/index.ts';
import {
  SysFunctions, sandboxRedirect, type CallbackResult, type CurrentCallView, type DialCallOptions, type DialplanScope, type SandboxDialResult,
} from './dialplan/index.ts';

/** What a Call needs from the CallService that owns it. */
export interface CallContext extends BranchContext {
  opts: CallServiceOptions;
  registerDialog(key: string, call: Call, side: 'a' | 'b'): void;
  /** Which call (and leg) a SIP Call-ID belongs to, for the SIP trace. */
  claimCallSipCallId?(sipCallId: string, owner: SipCallOwner): void;
  unregisterDialog(key: string): void;
  callEnded(call: Call): void;
  /** Calls each account is a party of (maxCalls); the CallService drops a call's holds when it ends. */
  accountCalls: AccountCallCounter;
  currentCalls(tenantId: number): CurrentCallView[];
  /** sys.Callback: a new 3PCC call of this tenant (CallService owns it). */
  callback(params: CallbackParams): Promise<CallbackResult>;
  /** The tenant's park slots (shared by every call of the switch, one set of numbers per tenant). */
  parking: ParkingLot<Call>;
  /** The call of `tenantId` owning the first of `keys` that names a dialog of ours (a Replaces), and its side. */
  findCallDialog(tenantId: number, keys: string[]): { call: Call; side: BridgeSide } | undefined;
}

export interface CallSetup {
  tenant: TenantRef;
  direction: CallDirection;
  /** The caller's account (outbound) or the callee's (inbound). */
  account: CallAccount;
  dialplanName?: string;
  req: SipRequest;
  tx: ServerTransaction;
  /** A call from a provider: `req.provider` and `req.did` of the dialplan. */
  inbound?: { provider: string; did?: string };
}

const TRANSFERS_DISABLED = 'Transfers are disabled on this call';
/** rm=n re-runs of the dialplan one call may make: a redirect loop ends with its 3xx. */
export const MAX_REDIRECT_RERUNS = 3;

/**
 * One call through the B2BUA: the A leg (our UAS side toward the caller) and the B legs (our UAC
 * side, each with its own Call-ID, tags and CSeq). Dials fork B legs; the first answer is
 * bridged: in-dialog requests are relayed between the two dialogs, BYE on one side ends both.
 */
export class Call {
  readonly id = randomUUID();
  readonly tenant: TenantRef;
  readonly direction: CallDirection;
  readonly account: CallAccount;
  readonly dialplanName?: string;
  readonly createdAt = Date.now();
  private readonly machine = callStateMachine();

  get state(): CallState {
    return this.machine.state;
  }
  private readonly req: SipRequest;
  private readonly tx: ServerTransaction;
  private readonly inbound?: { provider: string; did?: string };
  private readonly aToTag = newTag();
  private aRetransmitter?: Invite2xxRetransmitter;
  private bridge?: Bridge;
  /** Options of the answered dial-string leg: its `tr` decides REFERs, its `ma` relayed SDP. */
  private bridgedOptions?: DialLeg['options'];
  /** CDR leg id of each bridge side (the caller's is 0); a completed transfer changes one. */
  private readonly sideLegIds: Record<BridgeSide, number> = { a: 0, b: 0 };
  private readonly sideDialogKeys: Partial<Record<BridgeSide, string>> = {};
  /** A REFER is being carried out (tr=c); another one waits (491). */
  private transferring = false;
  /** The held party and both sessions as they were before the hold (what unhold restores). */
  private onHold?: HoldState;
  // Park, consult and pickup are made on their first use (most calls see none of them): each
  // holds a host of a dozen closures, per live call. Read-only checks use the `…State` field.
  /** Parked in a slot (park/call-park.ts): the parked party on hold, the other side vacant until a retrieve or the recall. */
  private parkingState?: CallPark<Call>;
  /** A switchboard consult: the consultant talks to the target (its dialog key routes here), the other party waits on hold. */
  private consultState?: CallConsult;
  /** Which accounts the ringing legs ring, and a pickup of the call (pickup/call-pickup.ts). */
  private pickupState?: CallPickup;

  private get parking(): CallPark<Call> {
    return (this.parkingState ??= new CallPark<Call>(this.parkHost()));
  }

  private get consult(): CallConsult {
    return (this.consultState ??= new CallConsult(this.consultHost()));
  }

  private get pickup(): CallPickup {
    return (this.pickupState ??= new CallPickup(this.pickupHost()));
  }
  /** Our 2xx to a phone's INVITE/Replaces, resent until its ACK (UDP), by the side it took. */
  private readonly takeoverRetransmitters = new Map<BridgeSide, Invite2xxRetransmitter>();
  /** How often we re-described each side's session ourselves: its SDP version goes up each time. */
  private readonly sdpSteps: Record<BridgeSide, number> = { a: 0, b: 0 };
  private readonly history: CdrHistoryItem[] = [];
  private fork?: ForkExecution<BridgeableLeg>;
  private readonly budget = new LegBudget();
  private cancelled = false;
  private finalSent = false;
  private responded?: { status: number; reason: string };
  private lastFailure?: { status: number; reason: string; outcome: DialOutcome };
  private readonly dialStrings: string[] = [];
  private readonly cdrLegs: CdrLeg[] = [];
  private ringingAt?: number;
  private answeredAt?: number;
  private durationTimer?: TimerHandle;
  private branchCtx?: BranchContext;
  private readonly legSettings = new LegSettings();
  /** The placing account's caller ID; none on incoming calls (the callee's setting is not ours to show). */
  private readonly callerId: CallerId;
  private readonly sys: SysFunctions;
  /** Legs of nested local-account dialplans, added to the CDR after the Dial that started them. */
  private readonly nestedLegs: Array<{ parentKey: string; legs: LegOutcome[] }> = [];
  private readonly dialogKeys: string[] = [];
  /** Legs ringing a tenant account's phones (their branches are the phones' dialogs, for BLF). */
  private readonly phoneLegs: Array<{ account: CallAccount; leg: OutboundLeg; since: number }> = [];
  private earlyMediaSent = false;
  private ringingSent = false;
  /** rm=n: the redirect target the last Dial asked the dialplan to be re-run with. */
  private redirectRerunTarget?: string;
  private redirectReruns = 0;
  /** req.uri of the current dialplan run: the Request-URI, or a redirect target on a re-run. */
  private dialplanUri?: SipUri;
  /** Which accounts are on which side: their maxCalls slots and `call.party.*` events (legs/call-parties.ts). */
  private readonly parties: CallParties;

  constructor(private readonly ctx: CallContext, setup: CallSetup) {
    this.tenant = setup.tenant;
    this.direction = setup.direction;
    this.account = setup.account;
    this.dialplanName = setup.dialplanName;
    this.req = setup.req;
    this.tx = setup.tx;
    this.inbound = setup.inbound;
    this.callerId = this.direction === 'outbound' ? parseCallerId(this.account.callerId) : {};
    this.tx.onCancel = () => this.cancelByCaller();
    const scope: DialplanScope = {
      tenant: this.tenant, callId: this.id, account: this.account, dialplanName: this.dialplanName ?? '', settings: this.legSettings,
      dial: (dialString, options) => this.dial(dialString, options),
      respond: (code, reason, headers) => {
        this.responded = { status: code, reason };
        this.finishUnanswered(code, reason || undefined, 'failed', headers);
      },
      callback: (dest1, dest2) => this.ctx.callback({ tenant: this.tenant, account: this.account, dest1, dest2, parentCallId: this.id }),
    };
    this.sys = new SysFunctions(scope, { opts: ctx.opts, currentCalls: (t) => ctx.currentCalls(t) });
    this.parties = new CallParties({ callId: this.id, tenantId: this.tenant.id, slots: ctx.accountCalls, emit: (e) => ctx.opts.emit(e) });
  }

  get caller(): CallParty {
    const f = this.req.from;
    return { uri: uriText(f.uri), displayName: f.displayName, account: this.direction === 'outbound' ? this.account.username : undefined };
  }

  get callee(): CallParty {
    return { uri: uriText(this.req.uri), account: this.direction === 'inbound' ? this.account.username : undefined };
  }

  private get log() {
    return this.ctx.opts.logger.child({ callId: this.id, tenantId: this.tenant.id });
  }

  start(): void {
    this.ctx.opts.emit({
      type: 'call.created', tenantId: this.tenant.id, callId: this.id, at: this.createdAt,
      direction: this.direction, caller: this.caller, callee: this.callee, dialplan: this.dialplanName,
    });
    // The CallService took the account's slot already; the account is the side it called from or is called on.
    this.parties.admit(this.account, this.direction === 'outbound' ? 'caller' : 'callee', this.direction === 'outbound' ? 'a' : 'b');
  }

  /** The shared context, plus claiming each branch's SIP Call-ID for this call. */
  private get branchContext(): BranchContext {
    const claim = this.ctx.claimCallSipCallId;
    if (!claim) return this.ctx;
    return this.branchCtx ??= {
      ...this.ctx,
      claimSipCallId: (sipCallId, label) => claim(sipCallId, { tenantId: this.tenant.id, callId: this.id, leg: 'b', legTarget: label }),
    };
  }

  // ------------------------------------------------------------------ dialplan

  async runDialplan(stored: StoredDialplan): Promise<void> {
    let result: RunResult;
    try {
      result = await this.ctx.opts.sandbox.run(
        {
          tenantId: String(this.tenant.id), callId: this.id, dialplanName: this.dialplanName ?? '',
          js: stored.js, sourceMap: stored.sourceMap,
          // Separate sandbox budgets per direction, and inbound ones per source, so callers from
          // outside can never use up what a tenant's own phones need to call out.
          direction: this.direction === 'inbound' ? 'in' : 'out',
          source: this.direction === 'inbound' ? this.req.source?.address : undefined,
          req: toDialplanRequest(this.req, {
            username: this.account.username, domain: this.tenant.domain, direction: this.direction === 'inbound' ? 'in' : 'out', requestUri: this.dialplanUri,
            provider: this.inbound?.provider, did: this.inbound?.did,
          }),
        },
        this.sandboxHost(),
      );
    } catch (err) {
      result = { status: 'failed', code: 500, reason: (err as Error).message };
    }
    if (result.status === 'failed') {
      this.ctx.opts.emit({
        type: 'dialplan.log', tenantId: this.tenant.id, callId: this.id, at: Date.now(), level: 'error',
        dialplan: this.dialplanName ?? '', message: result.reason, line: result.line, column: result.column,
      });
      // The run can fail while a sys.Dial is still ringing (sandbox child died, wall-clock limit):
      // nobody will await that Dial any more, so its legs must be cancelled, not left ringing.
      this.fork?.cancel();
      this.finishUnanswered(
        result.code, result.code === 503 ? 'Service Unavailable' : 'Dialplan failed', 'failed',
        result.retryAfter !== undefined ? { 'Retry-After': String(result.retryAfter) } : {},
      );
      return;
    }
    if (await this.rerunForRedirect(stored)) return;
    // SIPSorcery's rule when the script ends without an answer: the last failure, else 480.
    if (this.lastFailure) this.finishUnanswered(this.lastFailure.status, this.lastFailure.reason, this.lastFailure.outcome);
    else this.finishUnanswered(480, 'Temporarily Unavailable');
  }

  /**
   * rm=n, and a 3xx not followed by default: the dialplan that ran is run again with req.uri set
   * to the redirect target, when its last Dial ended that way and nothing answered the caller.
   */
  private async rerunForRedirect(stored: StoredDialplan): Promise<boolean> {
    const target = this.redirectRerunTarget;
    this.redirectRerunTarget = undefined;
    if (!target || this.redirectReruns >= MAX_REDIRECT_RERUNS) return false;
    if (this.finalSent || this.cancelled || !this.machine.is(CallState.Dialing)) return false;
    let uri: SipUri;
    try {
      uri = parseUri(target);
    } catch {
      return false;
    }
    this.redirectReruns++;
    this.dialplanUri = uri;
    this.lastFailure = undefined;
    this.log.info({ target, rerun: this.redirectReruns }, 'dialplan re-run for a redirect');
    await this.runDialplan(stored);
    return true;
  }

  /** No incoming dialplan: ring every binding of the callee account. */
  async ringAccount(): Promise<void> {
    const r = await this.dial(`${this.account.username}@local`, { customHeaders: [] });
    if (!r.answered) this.finishUnanswered(r.status, r.reason, this.lastFailure?.outcome);
  }

  private sandboxHost(): SandboxHost {
    return { call: (name, args) => this.sys.call(name, args) };
  }

  // ------------------------------------------------------------------ dialing

  async dial(dialString: string, options: DialCallOptions): Promise<SandboxDialResult> {
    if (!this.machine.is(CallState.Dialing) || this.finalSent) throw new Error('Dial: the call is already answered or over');
    if (this.cancelled) return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
    let plan: DialPlan;
    try {
      plan = parseDialString(dialString, {
        dst: (this.dialplanUri ?? this.req.uri).user ?? '',
        fromName: this.req.from.displayName ?? '',
        fromUriUser: this.req.from.uri.user ?? '',
      });
    } catch (err) {
      throw new Error(`Dial: ${(err as Error).message}`);
    }
    // The incoming dialplan of this call's own account already runs: dialling it rings bindings.
    const chain = this.direction === 'inbound' && this.dialplanName ? [this.account.username] : [];
    const scope: LegScope = { settings: this.legSettings, headers: options.customHeaders, chain, depth: 0 };
    const { result, legOffset } = await this.forkLegs(plan, dialString, options, scope, (legId, target, sdp) => this.onLegRinging(legId, target, sdp));
    // A pickup took the call while this Dial rang: the script hears how that went.
    const pickedUp = this.pickupState?.dialOutcome(result);
    if (pickedUp) return pickedUp;
    if (result.answered && result.winner) {
      const winner = result.winner.handle;
      const branch = winner.winner;
      if (!branch || !branch.dialog || this.cancelled || !this.machine.is(CallState.Dialing) || this.finalSent) {
        branch?.bye([reasonHeader(487, 'Caller gone')]);
        this.parties.dropUnseated();
        return { answered: false, status: 487, reason: 'Request Terminated', outcome: 'cancelled' };
      }
      this.bridgeTo(winner, branch, result.winner.outcome.id + legOffset, options.callDurationLimit);
      this.lastFailure = undefined;
      this.redirectRerunTarget = undefined;
      return { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
    }
    this.lastFailure = { status: result.status, reason: result.reason, outcome: result.outcome };
    this.redirectRerunTarget = result.redirect?.mode === 'new-dialplan' ? result.redirect.targets[0] : undefined;
    return { answered: false, status: result.status, reason: result.reason, outcome: sandboxOutcome(result), ...sandboxRedirect(result) };
  }

  /**
   * Runs one Dial's fork (for the caller's dialplan or a transfer's) and records its legs in the
   * CDR, numbered after the legs of earlier Dials. `ringing` gets the CDR leg id.
   */
  async forkLegs(
    plan: DialPlan, dialString: string, options: Pick<DialCallOptions, 'ringTimeout'>, scope: LegScope,
    ringing: (legId: number, target: string, sdp: string | undefined) => void,
  ): Promise<{ result: DialResult<BridgeableLeg>; legOffset: number }> {
    this.dialStrings.push(dialString);
    const legOffset = this.cdrLegs.length;
    const fork = startFork<BridgeableLeg>({
      plan,
      ringTimeoutSeconds: options.ringTimeout,
      legBudget: this.budget,
      ownDomains: [this.tenant.domain],
      starter: { start: (leg, observer) => this.startLeg(leg, observer, scope) },
      observer: {
        legRinging: (o) => ringing(o.id + legOffset, o.key, undefined),
        legProgress: (o, sdp) => ringing(o.id + legOffset, o.key, sdp),
      },
    });
    this.fork = fork;
    const result = await fork.result;
    if (this.fork === fork) this.fork = undefined;
    for (const o of result.legs) {
      const dl = plan.groups[o.groupIndex]?.legs.find((l) => l.key === o.key);
      this.cdrLegs.push({
        legId: o.id + legOffset, groupIndex: o.groupIndex, parentLegId: o.parentId ? o.parentId + legOffset : undefined,
        target: o.key, state: o.state, status: o.status, reason: o.reason, transferPolicy: dl?.options.transferPolicy,
        startedAt: o.startedAt, ringingAt: o.ringingAt, answeredAt: o.answeredAt, endedAt: o.endedAt,
      });
    }
    this.recordNestedLegs();
    return { result, legOffset };
  }

  /** Starts one leg: resolved (account, DNS, dialplan) asynchronously behind a DeferredLeg. */
  private startLeg(leg: DialLeg, observer: LegObserver, scope: LegScope): BridgeableLeg {
    const handle = new DeferredLeg(leg);
    void resolveLeg(leg, {
      opts: this.ctx.opts, tenant: this.tenant, dialplanChain: scope.chain, nestedDepth: scope.depth,
      callId: this.id, accountId: this.direction === 'outbound' ? this.account.id : undefined, dialplanName: this.dialplanName,
    }).then(
      (r) => {
        if (handle.cancelled) return;
        if (r.kind === 'failure') {
          observer.failed(r.failure);
          return;
        }
        const callee = r.account;
        let hold: PartyHold | undefined;
        if (callee) {
          // Checked once the account is known and taken in the same turn, so two legs racing for
          // its last slot cannot both ring it. A busy account's phones are never rung.
          hold = this.machine.is(CallState.Ended) ? undefined : this.parties.take(callee, 'callee', callee.maxCalls);
          if (!hold) {
            observer.failed(this.machine.is(CallState.Ended) ? { status: 487, reason: 'Request Terminated' } : { status: 486, reason: 'Busy Here' });
            return;
          }
        }
        const legObserver = callee && hold ? this.releasingOnFailure(observer, callee, hold) : observer;
        if (r.kind === 'dialplan') {
          const nested = new LocalDialplanLeg(leg, legObserver, this.nestedHost(), r.account, r.dialplan, r.dialplanName, scope);
          handle.attach(nested);
          nested.start();
          return;
        }
        const out = new OutboundLeg(leg, legObserver, {
          earlyMedia: (_branch, res) => {
            const sdp = res.body.toString('utf8');
            return res.source ? rewriteSdpForNat(sdp, res.source, { mangle: leg.options.mangleSdp }).sdp : sdp;
          },
        });
        handle.attach(out);
        if (callee) this.phoneLegs.push({ account: callee, leg: out, since: Date.now() });
        const base = this.branchRequest(leg, scope);
        const request = r.shape ? { ...base, ...r.shape(base) } : base;
        if (r.inTurn) {
          out.startInTurn(this.branchContext, r.targets, { ...request, to: r.to });
          return;
        }
        const branches = r.targets.map((t) => out.addBranch(this.branchContext, t));
        for (let i = 0; i < branches.length; i++) branches[i]!.start({ ...request, to: r.to });
      },
      (err: Error) => {
        if (!handle.cancelled) observer.failed({ status: 500, reason: `Leg could not be started: ${err.message}` });
      },
    );
    return handle;
  }

  /** A leg to a local account that fails (or is cancelled) stops counting against its maxCalls. */
  private releasingOnFailure(observer: LegObserver, callee: CallAccount, hold: PartyHold): LegObserver {
    let released = false;
    const stopRinging = this.pickup.ringing(callee.username);
    return {
      ringing: () => observer.ringing(),
      progress: (sdp) => observer.progress(sdp),
      answered: (answer) => {
        stopRinging();
        // The side it takes is the bridge's, a transfer's or a consult's to say (parties.seat).
        this.parties.answered(hold);
        observer.answered(answer);
      },
      failed: (failure) => {
        stopRinging();
        if (!released) this.parties.drop(hold);
        released = true;
        observer.failed(failure);
      },
    };
  }

  /**
   * The dialogs the phones of tenant accounts have in this call (the caller's phone, and each
   * phone a leg rings or that answered), each as the phone sees it: what BLF NOTIFYs describe.
   */
  phoneDialogs(): PhoneDialog[] {
    if (this.machine.is(CallState.Ended)) return [];
    const out: PhoneDialog[] = [];
    if (this.direction === 'outbound' && !this.cancelled) {
      const answered = this.machine.is(CallState.Answered);
      if (answered || this.ringingSent || this.earlyMediaSent) {
        out.push({
          callId: this.id, account: this.account.username, sipCallId: this.req.callId, localTag: this.req.from.params['tag'] ?? '',
          remoteTag: this.aToTag, direction: 'initiator', state: answered ? 'confirmed' : 'early', remote: this.callee, since: this.createdAt,
        });
      }
    }
    for (const { account, leg, since } of this.phoneLegs) {
      for (const b of leg.branches) {
        const early = b.state === SessionState.Early && !leg.winner && this.isRingingFor(account.username);
        const confirmed = b.state === SessionState.Confirmed && leg.winner === b && b.dialog !== undefined && !b.dialog.terminated;
        if ((!early && !confirmed) || !b.callId || !b.localTag || !b.remoteTag) continue;
        out.push({
          callId: this.id, account: account.username, sipCallId: b.callId, localTag: b.remoteTag, remoteTag: b.localTag,
          direction: 'recipient', state: confirmed ? 'confirmed' : 'early', remote: this.caller, since,
        });
      }
    }
    return out;
  }

  /** A ringing phone's early dialog named by a Replaces (either tag order): BLF pickup. */
  ringsEarlyDialog(sipCallId: string, tagA: string, tagB: string): boolean {
    return this.phoneDialogs().some((d) => d.state === 'early' && d.direction === 'recipient' && d.sipCallId === sipCallId
      && ((d.localTag === tagA && d.remoteTag === tagB) || (d.localTag === tagB && d.remoteTag === tagA)));
  }

  /** Still ringing (no final answer to the caller) with a leg to `extension`, or to any account of the tenant but `except`. */
  isRingingFor(extension: string | undefined, except?: string): boolean {
    return this.pickupState?.isRingingFor(extension, except) ?? false;
  }

  /** Live call control: the ringing call is answered by the extension `destination` instead. */
  pickupTo(destination: string, by: string): Promise<ControlResult> {
    return this.pickup.pickupTo(destination, by);
  }

  /** A phone's `*8<ext>` / `*8` picks this ringing call up. */
  pickUp(req: SipRequest, tx: ServerTransaction, by: string, picker?: CallAccount): Promise<boolean> {
    return this.pickup.pickUp(req, tx, by, picker);
  }

  /** This call as its pickup sees it. */
  private pickupHost(): PickupHost {
    const call = this;
    return {
      id: this.id, tenant: this.tenant, request: this.req, history: this.history,
      get log() { return call.log; },
      emit: (event) => this.ctx.opts.emit(event),
      get dialing() { return call.machine.is(CallState.Dialing) && !call.finalSent && !call.cancelled; },
      get answered() { return call.machine.is(CallState.Answered); },
      get ended() { return call.machine.is(CallState.Ended); },
      cancelRinging: () => this.fork?.cancel(),
      dropRinging: (vacate) => {
        this.parties.dropRinging();
        if (vacate) this.parties.vacate('b');
      },
      dropUnseated: () => this.parties.dropUnseated(),
      ring: (dialString) => {
        const plan = parseDialString(dialString, { dst: '', fromName: '', fromUriUser: '' });
        const scope: LegScope = { settings: this.legSettings, headers: [], chain: [], depth: 0 };
        return this.forkLegs(plan, dialString, { ringTimeout: 30 }, scope, (legId, target, sdp) => this.onLegRinging(legId, target, sdp));
      },
      bridgeTo: (leg, branch, legId) => this.bridgeTo(leg, branch, legId),
      answerWithPhone: (req, tx, toCaller, toPicker, picker) => this.answerWithPhone(req, tx, toCaller, toPicker, picker),
      recordTransfer: (result, side, target, detail) => this.recordTransfer(result, side, target, detail),
    };
  }

  /** A phone picked the ringing call up: the caller and the phone are answered with each other's offers and bridged. */
  private answerWithPhone(req: SipRequest, tx: ServerTransaction, toCaller: Buffer, toPicker: Buffer, picker?: CallAccount): boolean {
    const res = this.respondA(200, 'OK', toCaller);
    if (!res) return false;
    this.machine.to(CallState.Answered);
    this.answeredAt = Date.now();
    const aDialog = Dialog.asUas(this.req, { localTag: this.aToTag, localContact: this.localContactFor(this.req), flow: this.req.source });
    const toTag = newTag();
    const contact = this.localContactFor(req);
    const pickerRes = createResponse(req, 200, 'OK', { toTag, headers: { Contact: contact, Supported: 'replaces' }, body: toPicker, contentType: 'application/sdp' });
    tx.respond(pickerRes);
    const bDialog = Dialog.asUas(req, { localTag: toTag, localContact: contact, flow: req.source });
    this.bridge = new Bridge(
      {
        stack: this.ctx.stack, mangleSdp: true,
        events: {
          bye: (side) => this.hangup(side === 'a' ? 'caller' : 'callee', 200, 'Normal clearing'),
          refer: (side, r, t) => this.onRefer(side, r, t),
        },
      },
      uasParty(aDialog, this.ctx.stack, toCaller),
      uasParty(bDialog, this.ctx.stack, toPicker),
    );
    this.addDialog(dialogKey(aDialog.id), 'a');
    this.addDialog(dialogKey(bDialog.id), 'b');
    // The CallService took the picking phone's slot; the rung account is no party any more.
    this.parties.seat('b', 'replace', picker ? [this.parties.admit(picker, 'callee')] : []);
    if (this.req.source?.transport === 'udp') {
      this.aRetransmitter = retransmit2xxUntilAck(this.ctx.stack, res, this.req.source, () => this.hangup('system', 408, 'No ACK from caller'));
    }
    if (req.source?.transport === 'udp') {
      this.takeoverRetransmitters.set('b', retransmit2xxUntilAck(this.ctx.stack, pickerRes, req.source, () => this.hangup('system', 408, 'No ACK from the picking phone')));
    }
    const at = this.answeredAt;
    this.ctx.opts.emit({
      type: 'call.answered', tenantId: this.tenant.id, callId: this.id, at, legId: 0,
      caller: this.caller, callee: this.callee, direction: this.direction,
    });
    return true;
  }

  private nestedHost(): LocalDialplanHost {
    return {
      tenant: this.tenant, callId: this.id, opts: this.ctx.opts, request: this.req, budget: this.budget,
      sysDeps: { opts: this.ctx.opts, currentCalls: (t) => this.ctx.currentCalls(t) },
      startLeg: (leg, observer, scope) => this.startLeg(leg, observer, scope),
      callback: (account, dest1, dest2) => this.ctx.callback({ tenant: this.tenant, account, dest1, dest2, parentCallId: this.id }),
      recordNested: (parentKey, dialString, legs) => {
        this.dialStrings.push(dialString);
        this.nestedLegs.push({ parentKey, legs });
      },
    };
  }

  /** CDR legs of nested dialplans: numbered after the legs recorded so far, parented by target key. */
  private recordNestedLegs(): void {
    for (const { parentKey, legs } of this.nestedLegs.splice(0)) {
      const parent = [...this.cdrLegs].reverse().find((l) => l.target === parentKey);
      const offset = this.cdrLegs.length;
      for (const o of legs) {
        this.cdrLegs.push({
          legId: o.id + offset, groupIndex: o.groupIndex, parentLegId: o.parentId ? o.parentId + offset : parent?.legId,
          target: o.key, state: o.state, status: o.status, reason: o.reason,
          startedAt: o.startedAt, ringingAt: o.ringingAt, answeredAt: o.answeredAt, endedAt: o.endedAt,
        });
      }
    }
  }

  private branchRequest(leg: DialLeg, scope: LegScope): Omit<BranchRequest, 'to'> {
    const fromOverride = scope.settings.from;
    const f = this.req.from;
    const o = leg.options;
    // Precedence: the leg's fd/fu/fh, then sys.SetFromHeader, then the account's caller ID, then the caller's From.
    const from: NameAddr = {
      displayName: o.fromDisplayName ?? fromOverride.displayName ?? this.callerId.displayName ?? f.displayName,
      uri: {
        scheme: 'sip',
        user: o.fromUser ?? fromOverride.user ?? this.callerId.user ?? f.uri.user,
        host: o.fromHost ?? fromOverride.host ?? this.tenant.domain,
        params: {},
        headers: {},
      },
      params: {},
    };
    let sdp: Buffer | undefined;
    if (this.req.body.length && !scope.lateOffer) {
      const text = this.req.body.toString('utf8');
      sdp = Buffer.from(this.req.source ? rewriteSdpForNat(text, this.req.source, { mangle: o.mangleSdp }).sdp : text, 'utf8');
    }
    const headers: Array<[string, string]> = [...scope.headers];
    for (const h of o.customHeaders) headers.push([h.name, h.value]);
    // The B leg is a new request, but hop counting goes on across the B2BUA (loop protection).
    const maxForwards = Math.max(0, (this.req.maxForwards ?? 70) - 1);
    return { from, sdp, headers, maxForwards, deferAck: scope.lateOffer };
  }

  private onLegRinging(legId: number, target: string, sdp: string | undefined): void {
    const now = Date.now();
    this.ringingAt ??= now;
    this.ctx.opts.emit({ type: 'leg.ringing', tenantId: this.tenant.id, callId: this.id, at: now, legId, target, earlyMedia: sdp !== undefined });
    if (this.finalSent || this.cancelled) return;
    if (sdp !== undefined) {
      this.earlyMediaSent = true;
      this.respondA(183, undefined, Buffer.from(sdp, 'utf8'));
    } else if (!this.ringingSent && !this.earlyMediaSent) {
      this.ringingSent = true;
      this.respondA(180);
    }
  }

  // ------------------------------------------------------------------ A side

  private localContactFor(req: SipRequest): string {
    return this.ctx.localContact(req.source?.transport ?? 'udp');
  }

  private respondA(status: number, reason?: string, body?: Buffer, headers: Record<string, string> = {}): SipResponse | undefined {
    if (this.finalSent) return undefined;
    const hdrs: Record<string, string> = { ...headers };
    if (status < 300) {
      hdrs['Contact'] = this.localContactFor(this.req);
      // RFC 3891 §6: a phone may later take this dialog over with INVITE/Replaces.
      hdrs['Supported'] = 'replaces';
    }
    const res = createResponse(this.req, status, reason, {
      toTag: this.aToTag, headers: hdrs, body, contentType: body && body.length ? 'application/sdp' : undefined,
    });
    if (status >= 200) this.finalSent = true;
    try {
      this.tx.respond(res);
    } catch (err) {
      this.log.debug({ err }, 'response to caller failed');
    }
    return res;
  }

  private finishUnanswered(status: number, reason?: string, outcome: DialOutcome = 'failed', headers: Record<string, string> = {}): void {
    if (!this.machine.is(CallState.Dialing)) return;
    this.respondA(status, reason, undefined, headers);
    this.end(this.cancelled ? 'caller' : 'system', this.cancelled ? 487 : status, this.cancelled ? 'Request Terminated' : (reason ?? ''), this.cancelled ? 'cancelled' : outcome);
  }

  private cancelByCaller(): void {
    if (!this.machine.is(CallState.Dialing) || this.finalSent) return;
    this.cancelled = true;
    this.fork?.cancel();
    // The stack sends the 487 after onCancel returns (RFC 3261 §9.2).
    this.finalSent = true;
  }

  private bridgeTo(leg: BridgeableLeg, branch: UacBranch, legId: number, dialLimit?: number): void {
    const options = leg.answeredOptions ?? leg.leg.options;
    const bDialog = branch.dialog!;
    const answer = branch.answer!;
    let body: Buffer | undefined;
    if (answer.body.length) {
      const sdp = answer.body.toString('utf8');
      body = Buffer.from(answer.source ? rewriteSdpForNat(sdp, answer.source, { mangle: options.mangleSdp }).sdp : sdp, 'utf8');
    }
    const res = this.respondA(200, 'OK', body);
    if (!res) {
      branch.bye();
      return;
    }
    this.machine.to(CallState.Answered);
    this.answeredAt = Date.now();
    const aDialog = Dialog.asUas(this.req, { localTag: this.aToTag, localContact: this.localContactFor(this.req), flow: this.req.source });
    this.bridge = new Bridge(
      {
        stack: this.ctx.stack, mangleSdp: options.mangleSdp,
        events: {
          bye: (side) => this.hangup(side === 'a' ? 'caller' : 'callee', 200, 'Normal clearing'),
          refer: (side, req, tx) => this.onRefer(side, req, tx),
        },
      },
      uasParty(aDialog, this.ctx.stack, body),
      uacParty(branch, this.ctx),
    );
    this.bridgedOptions = options;
    this.sideLegIds.b = legId;
    this.parties.seat('b', 'join');
    this.addDialog(dialogKey(aDialog.id), 'a');
    this.addDialog(dialogKey(bDialog.id), 'b');
    if (this.req.source?.transport === 'udp') {
      this.aRetransmitter = retransmit2xxUntilAck(this.ctx.stack, res, this.req.source, () => {
        this.log.info('no ACK for 2xx from caller; hanging up');
        this.hangup('system', 408, 'No ACK from caller');
      });
    }
    this.ctx.opts.emit({
      type: 'call.answered', tenantId: this.tenant.id, callId: this.id, at: this.answeredAt, legId,
      caller: this.caller, callee: this.callee, direction: this.direction,
    });
    const limit = options.callDurationLimitSeconds ?? dialLimit;
    if (limit && limit > 0) {
      this.durationTimer = this.ctx.stack.wheel.schedule(limit * 1000, () => this.hangup('system', 200, 'Call duration limit reached'));
    }
  }

  private addDialog(key: string, side: BridgeSide): void {
    this.dialogKeys.push(key);
    this.sideDialogKeys[side] = key;
    this.ctx.registerDialog(key, this, side);
  }

  // ------------------------------------------------------------------ in-dialog

  /** A request inside the A or B dialog of this call (the CallService matched the dialog id). */
  handleInDialog(req: SipRequest, tx: ServerTransaction | undefined, side: BridgeSide): void {
    if (this.consultState?.owns(req)) {
      this.consult.handleTargetRequest(req, tx);
      return;
    }
    if (req.method === 'ACK' && side === 'a') this.aRetransmitter?.stop();
    if (req.method === 'ACK') {
      this.takeoverRetransmitters.get(side)?.stop();
      this.takeoverRetransmitters.delete(side);
    }
    if (this.parkingState?.current && this.bridge && this.machine.is(CallState.Answered)) {
      this.parking.handleInDialog(req, tx, side);
      return;
    }
    if (this.bridge && this.machine.is(CallState.Answered)) {
      this.bridge.handle(req, tx, side);
      return;
    }
    if (req.method !== 'ACK') tx?.respond(createResponse(req, 481));
  }

  // ------------------------------------------------------------------ transfer

  /** A REFER from a bridged party, decided by the answered leg's `tr` (DESIGN.md "Transfer policy"). */
  private onRefer(side: BridgeSide, req: SipRequest, tx: ServerTransaction): void {
    const parsed = parseReferTo(req.headers.get('Refer-To'));
    if (!parsed.ok) {
      tx.respond(createResponse(req, 400, parsed.reason));
      return;
    }
    const target = parsed.target;
    if (this.transferring || this.bridge?.busy) {
      tx.respond(createResponse(req, 491));
      return;
    }
    const policy = this.bridgedOptions?.transferPolicy ?? 'refuse';
    // tr=p passes a Replaces on unchanged: it names the transferor's dialog with us, so the far
    // party's INVITE/Replaces comes back to the switch and is matched there (takeOver).
    if (policy === 'switch' && target.replaces) this.attendedRefer(side, req, tx, target);
    else if (policy === 'switch' && this.parking.isSlot(target.uri)) void this.parking.byRefer(side, req, tx, target);
    else if (policy === 'pass-through') void this.passTransfer(side, req, tx, target);
    else if (policy === 'switch') {
      this.transferring = true;
      void this.switchTransfer(side, req, tx, target)
        .catch((err: unknown) => this.log.error({ err }, 'transfer failed'))
        .finally(() => { this.transferring = false; });
    } else this.refuseTransfer(side, req, tx, target, TRANSFERS_DISABLED);
  }

  private refuseTransfer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget, reason: string): void {
    this.recordTransfer('refused', side, target, { status: 603, reason });
    tx.respond(createResponse(req, 603, reason));
  }

  /** tr=p: the other party gets the REFER in its own dialog; its NOTIFYs come back through the bridge. */
  private async passTransfer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): Promise<void> {
    const headers: Array<[string, string]> = [['Refer-To', target.text]];
    const referredBy = req.headers.get('Referred-By');
    if (referredBy) headers.push(['Referred-By', referredBy]);
    const r = await this.bridge!.send(otherSide(side), { method: 'REFER', headers });
    this.recordTransfer('passed', side, target, { status: r.status, reason: r.reason });
    tx.respond(createResponse(req, r.status, r.reason));
  }

  /**
   * tr=c: 202, then the tenant's `transfer` dialplan places the new call (late offer). On answer
   * the staying party is re-INVITEd with the new party's offer, the new party gets the answer in
   * its ACK, the new party takes the referrer's side of the bridge and the referrer gets BYE. The
   * referrer hears each step as a sipfrag NOTIFY; on any failure the old bridge stays as it was.
   */
  private async switchTransfer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): Promise<void> {
    const stored = await this.ctx.opts.dialplans.get(this.tenant.id, TRANSFER_DIALPLAN);
    const bridge = this.bridge!;
    if (this.machine.is(CallState.Ended)) {
      tx.respond(createResponse(req, 481));
      return;
    }
    if (!stored) {
      this.refuseTransfer(side, req, tx, target, 'No transfer dialplan');
      return;
    }
    tx.respond(createResponse(req, 202, 'Accepted'));
    this.recordTransfer('accepted', side, target, {});
    const referrer = bridge.party(side);
    const notify = (status: number, reason: string): void => {
      if (!referrer.dialog.terminated) void sendInDialog(this.ctx.stack, referrer.dialog, referNotify(status, reason));
    };
    notify(100, 'Trying');
    const r = await blindTransfer(this.transferringCall(), {
      leave: side, place: transferByDialplan(stored, target, this.transferRequest(req, target, referrer, bridge.party(otherSide(side)))), progress: notify,
    });
    this.parties.dropUnseated();
    if (r.ok) {
      this.recordTransfer('completed', side, target, { status: 200, newLegId: r.newLegId });
      this.sideLegIds[side] = r.newLegId;
    } else if (!this.machine.is(CallState.Ended)) {
      notify(r.status, r.reason);
      this.recordTransfer('failed', side, target, { status: r.status, reason: r.reason });
    }
  }

  /**
   * tr=c with Replaces: the Replaces names the transferor's dialog with us in another call of
   * this tenant; its far party is joined with this call's other party (joinFarParties) and the
   * transferor's two legs end. That call's transfer policy must allow transfers too: a tenant
   * that keeps a leg at tr=n keeps it out of every transfer. Anything not of this tenant, not
   * answered or not found is refused with 403 before the 202, so nothing changes.
   */
  private attendedRefer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): void {
    const refuse = (status: number, reason: string): void => {
      this.recordTransfer('refused', side, target, { status, reason });
      tx.respond(createResponse(req, status, reason));
    };
    const found = this.ctx.findCallDialog(this.tenant.id, replacesDialogKeys(target.replaces!));
    if (!found || found.call === this) {
      refuse(403, 'Replaces names no other call of this tenant');
      return;
    }
    const other = found.call;
    const why = other.joinRefusal();
    if (why) {
      refuse(why.status, why.reason);
      return;
    }
    tx.respond(createResponse(req, 202, 'Accepted'));
    this.recordTransfer('accepted', side, target, { joinedCallId: other.id });
    const referrer = this.bridge!.party(side);
    const notify = (status: number, reason: string): void => {
      if (!referrer.dialog.terminated) void sendInDialog(this.ctx.stack, referrer.dialog, referNotify(status, reason));
    };
    notify(100, 'Trying');
    this.transferring = true;
    other.transferring = true;
    void joinFarParties(this.joinable(), otherSide(side), other.joinable(), otherSide(found.side))
      .then((r) => {
        if (!r.ok) {
          if (!this.machine.is(CallState.Ended)) notify(r.status, r.reason);
          this.recordTransfer('failed', side, target, { status: r.status, reason: r.reason, joinedCallId: other.id });
          return;
        }
        notify(200, 'OK');
        referrer.bye([reasonHeader(200, 'Call transferred')]);
        this.recordTransfer('completed', side, target, { status: 200, joinedCallId: other.id });
        other.endJoined(found.side, target, this.id);
      })
      .catch((err: unknown) => this.log.error({ err }, 'attended transfer failed'))
      .finally(() => {
        this.transferring = false;
        other.transferring = false;
      });
  }

  /** Live call control: park `party` (it stays, on hold); the other party leaves. */
  park(party: ControlParty, slot: string | undefined, by: string): Promise<ControlResult & { slot?: string }> {
    return this.parking.park(party, slot, by);
  }

  // ------------------------------------------------------------------ consult (switchboard attended transfer)

  /** Step 1: `party` (the switchboard's side) consults the extension `destination`; the other party waits on hold. */
  consultStart(party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    return this.consult.start(party, destination, by);
  }

  /** Step 2: the held party and the consult target are joined; the consultant leaves. */
  consultComplete(by: string): Promise<ControlResult> {
    return this.consult.complete(by);
  }

  /** Or step 2: the consult target is hung up, consultant and held party talk again. */
  consultCancel(by: string): Promise<ControlResult> {
    return this.consult.cancel(by);
  }

  /** This call as its switchboard consult sees it. */
  private consultHost(): ConsultHost {
    const call = this;
    return {
      tenant: this.tenant, parties: this.parties,
      get bridge() { return call.bridge; },
      get ended() { return call.machine.is(CallState.Ended); },
      get mangleSdp() { return call.bridgedOptions?.mangleSdp ?? true; },
      get otherChangeHolds() { return call.parkingState?.current !== undefined || call.onHold !== undefined; },
      get transferring() { return call.transferring; },
      set transferring(v: boolean) { call.transferring = v; },
      controllableBridge: () => this.controllableBridge(),
      nextSdpStep: (side) => ++this.sdpSteps[side],
      place: (destination) => transferByDial(`${destination}@local`)(this.transferringCall().dialplanHost(() => undefined)),
      takeSide: (side, branch) => this.transferringCall().takeSide(side, branch),
      routeDialog: (key, side) => {
        this.ctx.registerDialog(key, this, side);
        this.dialogKeys.push(key);
      },
      unregisterDialog: (key) => this.ctx.unregisterDialog(key),
      setSideLegId: (side, legId) => { this.sideLegIds[side] = legId; },
      recordTransfer: (result, side, target, detail) => this.recordTransfer(result, side, target, detail),
    };
  }

  /** The parked party's URI, if parked (the lot's list view). */
  get parkedPartyUri(): string | undefined {
    return this.parkingState?.parkedPartyUri;
  }

  /** The park recall timer fired (the lot already freed the slot). */
  recall(): void {
    this.parking.recall();
  }

  /** REST retrieve and recall: the parked party is connected to the extension `destination`. */
  retrieveTo(destination: string, by: string, kind: 'retrieved' | 'recalled' = 'retrieved'): Promise<ControlResult> {
    return this.parking.retrieveTo(destination, by, kind);
  }

  /** A phone of the tenant dialled the slot this call is parked in. */
  retrieveByPhone(req: SipRequest, tx: ServerTransaction, by: string, taker?: CallAccount): Promise<boolean> {
    return this.parking.retrieveByPhone(req, tx, by, taker);
  }

  /** This call as its park sees it. */
  private parkHost(): ParkHost<Call> {
    const call = this;
    return {
      self: this, tenant: this.tenant, direction: this.direction, account: this.account, lot: this.ctx.parking, stack: this.ctx.stack,
      get log() { return call.log; },
      history: this.history,
      emit: (event) => this.ctx.opts.emit(event),
      get bridge() { return call.bridge; },
      get answered() { return call.machine.is(CallState.Answered); },
      get ended() { return call.machine.is(CallState.Ended); },
      get onHold() { return call.onHold !== undefined; },
      get transferring() { return call.transferring; },
      set transferring(v: boolean) { call.transferring = v; },
      controllableBridge: () => this.controllableBridge(),
      nextSdpStep: (side) => ++this.sdpSteps[side],
      vacate: (side) => {
        this.parties.vacate(side);
        const key = this.sideDialogKeys[side];
        if (key) this.ctx.unregisterDialog(key);
      },
      setSideLegId: (side, legId) => { this.sideLegIds[side] = legId; },
      dropUnseated: () => this.parties.dropUnseated(),
      transferringCall: () => this.transferringCall(),
      takeOver: (side, req, tx, by, kind, taker) => this.takeOver(side, req, tx, by, kind, taker),
      hangup: (by, status, reason) => this.hangup(by, status, reason),
      recordTransfer: (result, side, target, detail) => this.recordTransfer(result, side, target, detail),
      resendUntilAck: (side, res, source) => {
        this.takeoverRetransmitters.get(side)?.stop();
        this.takeoverRetransmitters.set(side, retransmit2xxUntilAck(this.ctx.stack, res, source, () => this.takeoverRetransmitters.delete(side)));
      },
    };
  }

  /** Why this call cannot be joined into another by an attended transfer now, if it cannot. */
  private joinRefusal(): { status: number; reason: string } | undefined {
    if (!this.bridge || !this.machine.is(CallState.Answered)) return { status: 403, reason: 'The replaced call is not answered' };
    if ((this.bridgedOptions?.transferPolicy ?? 'refuse') === 'refuse') return { status: 603, reason: TRANSFERS_DISABLED };
    if (this.transferring || this.bridge.busy) return { status: 491, reason: 'Request Pending' };
    return undefined;
  }

  /** The far party of this call went into another call (attended transfer): the transferor's leg here ends, and so does this call. */
  private endJoined(transferorSide: BridgeSide, target: ReferTarget, joinedInto: string): void {
    this.recordTransfer('completed', transferorSide, target, { status: 200, joinedCallId: joinedInto });
    this.bridge?.party(transferorSide).bye([reasonHeader(200, 'Call transferred')]);
    this.end('system', 200, 'Joined by attended transfer', 'answered');
  }

  /** This call as an attended transfer (or a takeover) sees it. */
  private joinable(): JoinableCall {
    const call = this;
    return {
      id: this.id,
      bridge: this.bridge!,
      get ended() { return call.machine.is(CallState.Ended); },
      mangleSdp: this.bridgedOptions?.mangleSdp ?? true,
      handOff: (side) => {
        const key = this.sideDialogKeys[side]!;
        // The dialog now belongs to the other call: ending this one must not unregister it.
        this.dialogKeys.splice(this.dialogKeys.indexOf(key), 1);
        delete this.sideDialogKeys[side];
        if (side === 'a') this.aRetransmitter?.stop();
        // A party that called in from an account of the tenant counts against its maxCalls in its new call.
        return { party: this.bridge!.party(side), dialogKey: key, accounts: this.parties.accountsOn(side) };
      },
      adopt: (side, party, key, sentSdp, accounts) => {
        this.bridge!.replace(side, party, sentSdp);
        // The moved party's accounts count here now; whoever had the side (the transferor) left.
        if (accounts) this.parties.seat(side, 'replace', accounts.flatMap((a) => this.parties.take(a, 'callee', null) ?? []));
        const oldKey = this.sideDialogKeys[side];
        if (oldKey) {
          this.ctx.unregisterDialog(oldKey);
          this.dialogKeys.splice(this.dialogKeys.indexOf(oldKey), 1);
        }
        this.addDialog(key, side);
        if (side === 'a') this.aRetransmitter?.stop();
      },
    };
  }

  /** An INVITE/Replaces (or a dial of the slot this call is parked in) from a phone: it takes `side` (transfer/call-takeover.ts). */
  takeOver(side: BridgeSide, req: SipRequest, tx: ServerTransaction, by: string, kind: 'replaced' | 'retrieved' = 'replaced', taker?: CallAccount): Promise<boolean> {
    return takeOver(this.takeoverHost(), side, req, tx, by, kind, taker);
  }

  /** This call as a phone taking one of its sides sees it. */
  private takeoverHost(): TakeoverHost {
    const call = this;
    return {
      id: this.id, tenant: this.tenant, stack: this.ctx.stack, history: this.history,
      get log() { return call.log; },
      emit: (event) => this.ctx.opts.emit(event),
      get bridge() { return call.bridge; },
      get answered() { return call.machine.is(CallState.Answered); },
      get ended() { return call.machine.is(CallState.Ended); },
      get parked() { return call.parkingState?.current !== undefined; },
      get mangleSdp() { return call.bridgedOptions?.mangleSdp ?? true; },
      get transferring() { return call.transferring; },
      set transferring(v: boolean) { call.transferring = v; },
      localContactFor: (req) => this.localContactFor(req),
      adopt: (side, party, key, sentSdp) => this.joinable().adopt(side, party, key, sentSdp),
      // The CallService took the phone's slot; the replaced party's accounts leave.
      seatTaker: (side, taker) => this.parties.seat(side, 'replace', taker ? [this.parties.admit(taker, 'callee')] : []),
      resendUntilAck: (side, res, source, onTimeout) => {
        this.takeoverRetransmitters.set(side, retransmit2xxUntilAck(this.ctx.stack, res, source, () => {
          this.takeoverRetransmitters.delete(side);
          onTimeout();
        }));
      },
      hangup: (by, status, reason) => this.hangup(by, status, reason),
      retrievedByPhone: (by) => this.parking.takenByPhone(by),
    };
  }

  /** This call as a blind transfer sees it. */
  private transferringCall(): TransferringCall {
    const call = this;
    return {
      bridge: this.bridge!,
      get ended() { return call.machine.is(CallState.Ended); },
      mangleSdp: this.bridgedOptions?.mangleSdp ?? true,
      dialplanHost: (ringing) => ({
        tenant: this.tenant, callId: this.id, account: this.account, opts: this.ctx.opts,
        sysDeps: { opts: this.ctx.opts, currentCalls: (t) => this.ctx.currentCalls(t) }, settings: this.legSettings,
        forkLegs: (plan, dialString, options, scope, onRinging) => this.forkLegs(plan, dialString, options, scope, onRinging),
        callback: (dest1, dest2) => this.ctx.callback({ tenant: this.tenant, account: this.account, dest1, dest2, parentCallId: this.id }),
        ringing,
      }),
      takeSide: (side, branch) => {
        this.bridge!.replace(side, uacParty(branch, this.ctx));
        // The new party's account (answered, waiting) takes the side; the leaving party's go.
        this.parties.seat(side, 'replace');
        const oldKey = this.sideDialogKeys[side];
        if (oldKey) this.ctx.unregisterDialog(oldKey);
        this.addDialog(dialogKey(branch.dialog!.id), side);
        if (side === 'a') this.aRetransmitter?.stop();
      },
    };
  }

  /** The `req` of the transfer dialplan: the REFER, with `uri` = Refer-To and who is who. */
  private transferRequest(req: SipRequest, target: ReferTarget, referrer: BridgeParty, transferee: BridgeParty): DialplanRequest {
    return {
      ...toDialplanRequest(req, { username: this.account.username, domain: this.tenant.domain, direction: 'out', requestUri: target.uri }),
      transfer: {
        referTo: target.text, referredBy: req.headers.get('Referred-By'), originalCallId: this.id,
        referrer: uriText(referrer.dialog.remoteParty.uri), transferee: uriText(transferee.dialog.remoteParty.uri),
      },
    };
  }

  /** Every REFER decision is logged, an event, and a line of the CDR's transfer history. */
  private recordTransfer(
    result: TransferResult, side: BridgeSide, target: ReferTarget,
    detailWithKind: { status?: number; reason?: string; newLegId?: number; by?: string; joinedCallId?: string; attended?: boolean },
  ): void {
    const { attended, ...detail } = detailWithKind;
    const at = Date.now();
    const legId = this.sideLegIds[side];
    const kind = target.replaces || attended ? 'attended' : 'blind';
    this.history.push({ type: 'transfer', at, kind, result, referTo: target.text, legId, ...detail });
    this.log.info({ legId, referTo: target.text, result, ...detail }, `REFER ${result}`);
    this.ctx.opts.emit({
      type: result === 'completed' ? 'call.transferred' : `call.transfer.${result}`,
      tenantId: this.tenant.id, callId: this.id, at, legId, kind, referTo: target.text, ...detail,
    });
  }

  // ------------------------------------------------------------------ live call control

  view(): LiveCallView {
    return {
      id: this.id, direction: this.direction, state: this.state, caller: this.caller, callee: this.callee,
      createdAt: this.createdAt, answeredAt: this.answeredAt, held: this.onHold?.party, parkedIn: this.parkingState?.current?.slot, history: [...this.history],
    };
  }

  /** Puts `party` on hold (control/hold-control.ts); a parked call or one in a consult cannot be held. */
  async hold(party: ControlParty, by: string): Promise<ControlResult> {
    const bridge = this.controllableBridge();
    if (!bridge.ok) return bridge;
    if (this.onHold) return this.onHold.party === party ? { ok: true } : { ok: false, status: 409, reason: `The ${this.onHold.party} is on hold` };
    if (this.parkingState?.current || this.consultState?.active || this.transferring) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    const r = await holdParty(bridge.value, party, (side) => ++this.sdpSteps[side]);
    if (!r.ok) return r;
    this.onHold = r.state;
    this.recordHold('hold', party, by);
    return { ok: true };
  }

  async unhold(by: string): Promise<ControlResult> {
    const bridge = this.controllableBridge();
    if (!bridge.ok) return bridge;
    const held = this.onHold;
    if (!held) return { ok: false, status: 409, reason: 'Nobody is on hold' };
    const r = await unholdParty(bridge.value, held, (side) => ++this.sdpSteps[side]);
    if (!r.ok) return r;
    this.onHold = undefined;
    this.recordHold('unhold', held.party, by);
    return { ok: true };
  }

  /**
   * Blind transfer from the switchboard: `party` stays and is connected to `destination` by the
   * tenant's `transfer` dialplan (the same policy a phone's REFER meets); the other party leaves.
   */
  async transfer(party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    if (party === 'caller' && this.isRingingFor(undefined)) return this.pickup.deflect(destination, by);
    const bridge = this.controllableBridge();
    if (!bridge.ok) return bridge;
    if (this.transferring || bridge.value.busy) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    const parsed = parseReferTo(destination.includes(':') ? `<${destination}>` : `<sip:${destination}@${this.tenant.domain}>`);
    if (!parsed.ok) return { ok: false, status: 422, reason: parsed.reason };
    const stored = await this.ctx.opts.dialplans.get(this.tenant.id, TRANSFER_DIALPLAN);
    if (!stored) return { ok: false, status: 409, reason: 'The tenant has no transfer dialplan' };
    const stay = controlSide(party);
    const leave = otherSide(stay);
    const target = parsed.target;
    this.transferring = true;
    try {
      this.recordTransfer('accepted', leave, target, { by });
      const req: DialplanRequest = {
        ...toDialplanRequest(this.req, { username: this.account.username, domain: this.tenant.domain, direction: 'out', requestUri: target.uri }),
        transfer: {
          referTo: target.text, originalCallId: this.id, referrer: by,
          transferee: uriText(bridge.value.party(stay).dialog.remoteParty.uri),
        },
      };
      const r = await blindTransfer(this.transferringCall(), { leave, place: transferByDialplan(stored, target, req), progress: () => undefined });
      this.parties.dropUnseated();
      if (!r.ok) {
        if (!this.machine.is(CallState.Ended)) this.recordTransfer('failed', leave, target, { status: r.status, reason: r.reason, by });
        return { ok: false, status: 502, reason: `Transfer failed: ${r.status} ${r.reason}` };
      }
      this.recordTransfer('completed', leave, target, { status: 200, newLegId: r.newLegId, by });
      this.sideLegIds[leave] = r.newLegId;
      return { ok: true };
    } finally {
      this.transferring = false;
    }
  }

  private controllableBridge(): { ok: true; value: Bridge } | { ok: false; status: 409; reason: string } {
    if (!this.bridge || !this.machine.is(CallState.Answered)) return { ok: false, status: 409, reason: 'The call is not answered' };
    return { ok: true, value: this.bridge };
  }

  private recordHold(type: 'hold' | 'unhold', party: ControlParty, by: string): void {
    const at = Date.now();
    this.history.push({ type, at, party, by });
    this.log.info({ party, by }, type === 'hold' ? 'call held' : 'call unheld');
    this.ctx.opts.emit({ type: type === 'hold' ? 'call.held' : 'call.unheld', tenantId: this.tenant.id, callId: this.id, at, party, by });
  }

  // ------------------------------------------------------------------ ending

  /** Hangs up an answered call from our side (cd limit, shutdown) or after a BYE on one side. */
  hangup(by: HangupSide, status: number, reason: string): void {
    if (this.machine.is(CallState.Ended)) return;
    if (this.machine.is(CallState.Dialing)) {
      // Not answered yet (shutdown, missing dialplan): stop the legs and answer the caller.
      this.fork?.cancel();
      const code = status >= 300 ? status : 503;
      this.respondA(code, reason);
      this.end(by, code, reason, 'failed');
      return;
    }
    const headers = by === 'system' ? [reasonHeader(status, reason)] : [];
    // The side whose BYE ended the call is already terminated; bye() skips it.
    this.bridge?.party('b').bye(headers);
    this.bridge?.party('a').bye(headers);
    this.end(by, status, reason, 'answered');
  }

  private end(by: HangupSide, status: number, reason: string, outcome: DialOutcome): void {
    if (this.machine.is(CallState.Ended)) return;
    const wasAnswered = this.machine.is(CallState.Answered);
    this.machine.to(CallState.Ended);
    this.parties.end();
    this.ctx.stack.wheel.cancel(this.durationTimer);
    this.aRetransmitter?.stop();
    for (const r of this.takeoverRetransmitters.values()) r.stop();
    this.takeoverRetransmitters.clear();
    this.parkingState?.leaveLot();
    this.consultState?.end();
    this.bridge?.close();
    // A transfer's new legs may still ring.
    this.fork?.cancel();
    for (const k of this.dialogKeys) this.ctx.unregisterDialog(k);
    this.recordNestedLegs();
    recordCallEnd({
      tenant: this.tenant, id: this.id, direction: this.direction, caller: this.caller, callee: this.callee,
      dialplan: this.dialplanName, dialStrings: [...this.dialStrings], legs: [...this.cdrLegs], createdAt: this.createdAt,
      ringingAt: this.ringingAt, answeredAt: this.answeredAt, history: [...this.history],
    }, { by, status, reason, outcome, wasAnswered }, this.ctx.opts, this.log);
    this.ctx.callEnded(this);
  }
}
