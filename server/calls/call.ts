import { randomUUID } from 'node:crypto';
import { CallState, callStateMachine } from './call-state.ts';
import {
  CallConsult, CallHold, type ConsultHost, type ControlParty, type ControlResult, type HoldHost, type LiveCallView,
} from './control/index.ts';
import type { TenantRef } from '../registrar/index.ts';
import { dialogKey, reasonHeader } from '../sip/index.ts';
import { createResponse, type SipRequest } from '../sip/index.ts';
import type { ServerTransaction, SipStack } from '../sip/index.ts';
import type { Logger } from 'pino';
import type { TimerHandle } from '../sip/index.ts';
import { UasLeg, uacParty, type BranchContext, type UacBranch, type UasLegHost } from './legs/index.ts';
import { Bridge, rewriteSdpForNat, type BridgeParty, type BridgeSide } from './bridge/index.ts';
import {
  CallTransfers, takeOver, transferByDial, type JoinableCall, type TakeoverHost, type TransferCallHost, type TransferringCall,
} from './transfer/index.ts';
import { CallDialogs, CallParties, type BridgeableLeg, type DialogRegistry } from './legs/index.ts';
import type { AccountCallCounter } from './account-call-counter.ts';
import type { CallbackParams } from './callback-call.ts';
import { recordCallEnd } from './records/index.ts';
import type { PhoneDialog } from './phone-dialog.ts';
import { CallPark, type ParkHost, type ParkingLot } from './park/index.ts';
import { CallPickup, type PickupHost } from './pickup/index.ts';
import type { CallDirection, CallParty, CdrHistoryItem, HangupSide } from './records/index.ts';
import type { CallAccount, CallServiceOptions, SipCallOwner, StoredDialplan } from './call-service-deps.ts';
import { parseDialString, type DialLeg, type DialOutcome } from './dial/index.ts';
import {
  CallDialplan, CallLegs, LegSettings, uriText,
  type CallbackResult, type CallDialplanHost, type CallIdentity, type CallLegsHost, type CurrentCallView, type LegScope, type SysFunctionDeps,
} from './dialplan/index.ts';

/** What a Call needs from the CallService that owns it. */
export interface CallContext extends BranchContext, DialogRegistry<Call> {
  opts: CallServiceOptions;
  /** Which call (and leg) a SIP Call-ID belongs to, for the SIP trace. */
  claimCallSipCallId?(sipCallId: string, owner: SipCallOwner): void;
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

/**
 * One call through the B2BUA: the A leg (our UAS side toward the caller) and the B legs (our UAC
 * side, each with its own Call-ID, tags and CSeq). Dials fork B legs; the first answer is
 * bridged: in-dialog requests are relayed between the two dialogs, BYE on one side ends both.
 * Each concern is its feature folder's (dialplan run and legs, transfers, park, pickup, consult,
 * hold); the Call holds the state they share and hands each a narrow host of it.
 */
export class Call implements UasLegHost {
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
  /** The caller's INVITE transaction. */
  readonly tx: ServerTransaction;
  private readonly inbound?: { provider: string; did?: string };
  /** Our UAS side toward the caller: its answers, its CANCEL, our 2xx until its ACK, then side A's party (legs/uas-leg.ts). */
  private readonly callerLeg: UasLeg;
  private bridge?: Bridge;
  /** Options of the answered dial-string leg: its `tr` decides REFERs, its `ma` relayed SDP. */
  private bridgedOptions?: DialLeg['options'];
  /** CDR leg id of each bridge side (the caller's is 0); a completed transfer changes one. */
  private readonly sideLegIds: Record<BridgeSide, number> = { a: 0, b: 0 };
  /** A REFER is being carried out (tr=c); another one waits (491). */
  private transferring = false;
  /** A party on hold from the switchboard (control/call-hold.ts). */
  private readonly holding: CallHold;
  // Park and consult are made on first use (most calls see neither): each holds a host of a
  // dozen closures per live call. Read-only checks look at the `…State` field.
  /** Parked in a slot (park/call-park.ts): the parked party on hold, the other side vacant until a retrieve or the recall. */
  private parkingState?: CallPark<Call>;
  /** A switchboard consult: the consultant talks to the target (its dialog key routes here), the other party waits on hold. */
  private consultState?: CallConsult;
  /** Which accounts the ringing legs ring, and a pickup of the call (pickup/call-pickup.ts). */
  private readonly pickup: CallPickup;
  /** REFERs, the switchboard's blind transfer and the transfer history (transfer/call-transfer.ts); made on first use. */
  private transfersState?: CallTransfers;
  /** How often we re-described each side's session ourselves: its SDP version goes up each time. */
  private readonly sdpSteps: Record<BridgeSide, number> = { a: 0, b: 0 };
  private readonly history: CdrHistoryItem[] = [];
  /** Each Dial's fork and legs, and the CDR legs they leave (dialplan/call-legs.ts). */
  private readonly legs: CallLegs;
  /** The caller's dialplan: its run, re-runs for a redirect, and its Dials (dialplan/call-dialplan.ts). */
  private readonly dialplan: CallDialplan;
  private ringingAt?: number;
  private answeredAt?: number;
  private durationTimer?: TimerHandle;
  private branchCtx?: BranchContext;
  private readonly legSettings = new LegSettings();
  private logger?: Logger;
  private readonly sysDeps: SysFunctionDeps;
  /** The dialogs routed to this call, and each side's (legs/call-dialogs.ts). */
  private readonly dialogs: CallDialogs<Call>;
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
    this.dialogs = new CallDialogs<Call>(ctx, this);
    this.callerLeg = new UasLeg(this);
    this.tx.onCancel = () => this.cancelByCaller();
    this.parties = new CallParties({
      callId: this.id, tenantId: this.tenant.id, slots: ctx.accountCalls, emit: (e) => ctx.opts.emit(e),
      sideReplaced: (side) => this.holding.sideReplaced('switch', side),
    });
    this.sysDeps = { opts: ctx.opts, currentCalls: (t) => ctx.currentCalls(t) };
    this.legs = new CallLegs(new Call.LegsView(this));
    this.dialplan = new CallDialplan(new Call.DialplanView(this));
    this.pickup = new CallPickup(new Call.PickupView(this));
    this.holding = new CallHold(new Call.HoldView(this));
  }

  private get parking(): CallPark<Call> {
    return (this.parkingState ??= new CallPark<Call>(this.parkHost()));
  }

  // Most calls never transfer: the transfer machinery (and its host) is made on first use.
  private get transfers(): CallTransfers {
    return (this.transfersState ??= new CallTransfers(this.transferHost()));
  }

  private get consult(): CallConsult {
    return (this.consultState ??= new CallConsult(this.consultHost()));
  }

  get caller(): CallParty {
    const f = this.req.from;
    return { uri: uriText(f.uri), displayName: f.displayName, account: this.direction === 'outbound' ? this.account.username : undefined };
  }

  get callee(): CallParty {
    return { uri: uriText(this.req.uri), account: this.direction === 'inbound' ? this.account.username : undefined };
  }

  /** One child logger per call, made when first asked for (most calls never log). */
  get log(): Logger {
    return (this.logger ??= this.ctx.opts.logger.child({ callId: this.id, tenantId: this.tenant.id }));
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

  /** Runs the call's dialplan for the caller (dialplan/call-dialplan.ts). */
  runDialplan(stored: StoredDialplan): Promise<void> {
    return this.dialplan.run(stored);
  }

  /** No incoming dialplan: ring every binding of the callee account. */
  ringAccount(): Promise<void> {
    return this.dialplan.ringAccount();
  }

  /**
   * The dialogs the phones of tenant accounts have in this call (the caller's phone, and each
   * phone a leg rings or that answered), each as the phone sees it: what BLF NOTIFYs describe.
   */
  phoneDialogs(): PhoneDialog[] {
    if (this.machine.is(CallState.Ended)) return [];
    const out: PhoneDialog[] = [];
    const own = this.direction === 'outbound'
      ? this.callerLeg.phoneDialog(this.id, this.account.username, this.machine.is(CallState.Answered), this.callee, this.createdAt) : undefined;
    if (own) out.push(own);
    out.push(...this.legs.phoneDialogs((username) => this.isRingingFor(username), this.caller));
    return out;
  }

  /** A ringing phone's early dialog named by a Replaces (either tag order): BLF pickup. */
  ringsEarlyDialog(sipCallId: string, tagA: string, tagB: string): boolean {
    return this.phoneDialogs().some((d) => d.state === 'early' && d.direction === 'recipient' && d.sipCallId === sipCallId
      && ((d.localTag === tagA && d.remoteTag === tagB) || (d.localTag === tagB && d.remoteTag === tagA)));
  }

  /** Still ringing (no final answer to the caller) with a leg to `extension`, or to any account of the tenant but `except`. */
  isRingingFor(extension: string | undefined, except?: string): boolean {
    return this.pickup.isRingingFor(extension, except);
  }

  /** Live call control: the ringing call is answered by the extension `destination` instead. */
  pickupTo(destination: string, by: string): Promise<ControlResult> {
    return this.pickup.pickupTo(destination, by);
  }

  /** A phone's `*8<ext>` / `*8` picks this ringing call up. */
  pickUp(req: SipRequest, tx: ServerTransaction, by: string, picker?: CallAccount): Promise<boolean> {
    return this.pickup.pickUp(req, tx, by, picker);
  }

  /** sys.Callback: a 3PCC call of the tenant placed for `account`, this call its parent. */
  private callback(account: CallAccount, dest1: string, dest2: string): Promise<CallbackResult> {
    return this.ctx.callback({ tenant: this.tenant, account, dest1, dest2, parentCallId: this.id });
  }

  /** A phone picked the ringing call up: the caller and the phone are answered with each other's offers and bridged. */
  private answerWithPhone(req: SipRequest, tx: ServerTransaction, toCaller: Buffer, toPicker: Buffer, picker?: CallAccount): boolean {
    if (!this.callerLeg.answer(toCaller, () => this.hangup('system', 408, 'No ACK from caller'))) return false;
    this.machine.to(CallState.Answered);
    this.answeredAt = Date.now();
    const pickerLeg = new UasLeg({ request: req, tx, stack: this.ctx.stack, log: this.log, localContactFor: (r) => this.localContactFor(r) });
    pickerLeg.answer(toPicker, () => this.hangup('system', 408, 'No ACK from the picking phone'));
    this.bridge = this.newBridge(true, this.callerLeg, pickerLeg);
    this.dialogs.add('a', dialogKey(this.callerLeg.dialog.id));
    this.dialogs.add('b', dialogKey(pickerLeg.dialog.id));
    // The CallService took the picking phone's slot; the rung account is no party any more.
    this.parties.seat('b', 'replace', picker ? [this.parties.admit(picker, 'callee')] : []);
    const at = this.answeredAt;
    this.ctx.opts.emit({
      type: 'call.answered', tenantId: this.tenant.id, callId: this.id, at, legId: 0,
      caller: this.caller, callee: this.callee, direction: this.direction,
    });
    return true;
  }

  private onLegRinging(legId: number, target: string, sdp: string | undefined): void {
    const now = Date.now();
    this.ringingAt ??= now;
    this.ctx.opts.emit({ type: 'leg.ringing', tenantId: this.tenant.id, callId: this.id, at: now, legId, target, earlyMedia: sdp !== undefined });
    this.callerLeg.alert(sdp);
  }

  // ------------------------------------------------------------------ A side

  // CallerLegHost, implemented by the Call itself (no host object kept per call).
  get request(): SipRequest {
    return this.req;
  }

  get stack(): SipStack {
    return this.ctx.stack;
  }

  localContactFor(req: SipRequest): string {
    return this.ctx.localContact(req.source?.transport ?? 'udp');
  }

  private finishUnanswered(status: number, reason?: string, outcome: DialOutcome = 'failed', headers: Record<string, string> = {}): void {
    if (!this.machine.is(CallState.Dialing)) return;
    this.callerLeg.respond(status, reason, undefined, headers);
    const cancelled = this.callerLeg.cancelled;
    this.end(cancelled ? 'caller' : 'system', cancelled ? 487 : status, cancelled ? 'Request Terminated' : (reason ?? ''), cancelled ? 'cancelled' : outcome);
  }

  private cancelByCaller(): void {
    if (!this.machine.is(CallState.Dialing) || this.callerLeg.final) return;
    this.callerLeg.cancel(() => this.legs.cancel());
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
    branch.releaseAnswer();
    const res = this.callerLeg.answer(body, () => {
      this.log.info('no ACK for 2xx from caller; hanging up');
      this.hangup('system', 408, 'No ACK from caller');
    });
    if (!res) {
      branch.bye();
      return;
    }
    this.machine.to(CallState.Answered);
    this.answeredAt = Date.now();
    this.bridge = this.newBridge(options.mangleSdp, this.callerLeg, uacParty(branch));
    this.bridgedOptions = options;
    this.sideLegIds.b = legId;
    this.parties.seat('b', 'join');
    this.dialogs.add('a', dialogKey(this.callerLeg.dialog.id));
    this.dialogs.add('b', dialogKey(bDialog.id));
    this.ctx.opts.emit({
      type: 'call.answered', tenantId: this.tenant.id, callId: this.id, at: this.answeredAt, legId,
      caller: this.caller, callee: this.callee, direction: this.direction,
    });
    const limit = options.callDurationLimitSeconds ?? dialLimit;
    if (limit && limit > 0) {
      this.durationTimer = this.ctx.stack.wheel.schedule(limit * 1000, () => this.hangup('system', 200, 'Call duration limit reached'));
    }
  }

  /** The answered call's bridge: a BYE on either side ends the call, a REFER is the transfers' to decide. */
  private newBridge(mangleSdp: boolean, a: BridgeParty, b: BridgeParty): Bridge {
    const events = {
      bye: (side: BridgeSide) => this.hangup(side === 'a' ? 'caller' : 'callee', 200, 'Normal clearing'),
      refer: (side: BridgeSide, req: SipRequest, tx: ServerTransaction) => this.transfers.onRefer(side, req, tx),
      sessionChanged: (side: BridgeSide, sdp: Buffer) => {
        const user = this.bridge?.party(side).dialog.remoteParty.uri.user;
        this.holding.phoneOffer(side, sdp, `phone:${user ?? side}`);
      },
    };
    return new Bridge({ stack: this.ctx.stack, mangleSdp, events }, a, b);
  }

  // ------------------------------------------------------------------ in-dialog

  /** A request inside the A or B dialog of this call (the CallService matched the dialog id). */
  handleInDialog(req: SipRequest, tx: ServerTransaction | undefined, side: BridgeSide): void {
    if (this.consultState?.owns(req)) {
      this.consult.handleTargetRequest(req, tx);
      return;
    }
    // The side's leg sorts the request for its owner: the bridge, or the park while parked.
    if (this.bridge && this.machine.is(CallState.Answered)) {
      this.bridge.party(side).receive(req, tx);
      return;
    }
    if (req.method !== 'ACK') tx?.respond(createResponse(req, 481));
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
      get otherChangeHolds() { return call.parkingState?.current !== undefined || call.holding.switchboardParty !== undefined; },
      get transferring() { return call.transferring; },
      set transferring(v: boolean) { call.transferring = v; },
      controllableBridge: () => this.controllableBridge(),
      nextSdpStep: (side) => ++this.sdpSteps[side],
      place: (destination) => transferByDial(`${destination}@local`)(this.transferringCall().dialplanHost(() => undefined)),
      takeSide: (side, branch) => this.transferringCall().takeSide(side, branch),
      routeDialog: (key, side) => this.dialogs.route(side, key),
      unregisterDialog: (key) => this.dialogs.release(key),
      setSideLegId: (side, legId) => { this.sideLegIds[side] = legId; },
      recordTransfer: (result, side, target, detail) => this.transfers.record(result, side, target, detail),
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
      get onHold() { return call.holding.switchboardParty !== undefined; },
      get transferring() { return call.transferring; },
      set transferring(v: boolean) { call.transferring = v; },
      controllableBridge: () => this.controllableBridge(),
      nextSdpStep: (side) => ++this.sdpSteps[side],
      vacate: (side) => {
        this.parties.vacate(side);
        const key = this.dialogs.keyOf(side);
        if (key) this.dialogs.release(key);
      },
      setSideLegId: (side, legId) => { this.sideLegIds[side] = legId; },
      dropUnseated: () => this.parties.dropUnseated(),
      transferringCall: () => this.transferringCall(),
      takeOver: (side, req, tx, by, kind, taker) => this.takeOver(side, req, tx, by, kind, taker),
      hangup: (by, status, reason) => this.hangup(by, status, reason),
      recordTransfer: (result, side, target, detail) => this.transfers.record(result, side, target, detail),
    };
  }

  /** This call as its transfers see it. */
  private transferHost(): TransferCallHost {
    const call = this;
    return {
      id: this.id, tenant: this.tenant, account: this.account, request: this.req, opts: this.ctx.opts, stack: this.ctx.stack, history: this.history,
      get log() { return call.log; },
      get bridge() { return call.bridge; },
      get answered() { return call.machine.is(CallState.Answered); },
      get ended() { return call.machine.is(CallState.Ended); },
      get transferPolicy() { return call.bridgedOptions?.transferPolicy ?? 'refuse'; },
      get transferring() { return call.transferring; },
      set transferring(v: boolean) { call.transferring = v; },
      controllableBridge: () => this.controllableBridge(),
      legId: (side) => this.sideLegIds[side],
      setSideLegId: (side, legId) => { this.sideLegIds[side] = legId; },
      dropUnseated: () => this.parties.dropUnseated(),
      transferringCall: () => this.transferringCall(),
      joinable: () => this.joinable(),
      findOtherCall: (keys) => {
        const found = this.ctx.findCallDialog(this.tenant.id, keys);
        return found && found.call !== this ? { transfers: found.call.transfers, side: found.side } : undefined;
      },
      isParkSlot: (uri) => this.parking.isSlot(uri),
      parkByRefer: (side, req, tx, target) => this.parking.byRefer(side, req, tx, target),
      endJoined: () => this.end('system', 200, 'Joined by attended transfer', 'answered'),
    };
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
        // The dialog now belongs to the other call: ending this one must not unregister it.
        const key = this.dialogs.handOff(side);
        this.bridge!.party(side).release();
        // A party that called in from an account of the tenant counts against its maxCalls in its new call.
        return { party: this.bridge!.party(side), dialogKey: key, accounts: this.parties.accountsOn(side) };
      },
      adopt: (side, party, key, sentSdp, accounts) => {
        this.bridge!.replace(side, party, sentSdp);
        // The moved party's accounts count here now; whoever had the side (the transferor) left.
        if (accounts) this.parties.seat(side, 'replace', accounts.flatMap((a) => this.parties.take(a, 'callee', null) ?? []));
        this.dialogs.replace(side, key);
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
        sysDeps: this.sysDeps, settings: this.legSettings,
        forkLegs: (plan, dialString, options, scope, onRinging) => this.legs.forkLegs(plan, dialString, options, scope, onRinging),
        callback: (dest1, dest2) => this.callback(this.account, dest1, dest2),
        ringing,
      }),
      takeSide: (side, branch) => {
        this.bridge!.replace(side, uacParty(branch));
        // The new party's account (answered, waiting) takes the side; the leaving party's go.
        this.parties.seat(side, 'replace');
        this.dialogs.replace(side, dialogKey(branch.dialog!.id));
      },
    };
  }

  // ------------------------------------------------------------------ live call control

  view(): LiveCallView {
    return {
      id: this.id, direction: this.direction, state: this.state, caller: this.caller, callee: this.callee,
      createdAt: this.createdAt, answeredAt: this.answeredAt, held: this.heldParty(), parkedIn: this.parkingState?.current?.slot, history: [...this.history],
    };
  }

  /** The party whose leg is on hold (control/call-hold.ts marks it), if any. */
  private heldParty(): ControlParty | undefined {
    const bridge = this.bridge;
    if (!bridge || !this.machine.is(CallState.Answered)) return undefined;
    return bridge.party('a').held ? 'caller' : bridge.party('b').held ? 'callee' : undefined;
  }

  /** Puts `party` on hold (control/call-hold.ts); a parked call or one in a consult cannot be held. */
  hold(party: ControlParty, by: string): Promise<ControlResult> {
    return this.holding.hold(party, by);
  }

  unhold(by: string): Promise<ControlResult> {
    return this.holding.unhold(by);
  }

  /** Blind transfer from the switchboard (transfer/call-transfer.ts); a ringing call is deflected instead. */
  transfer(party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    if (party === 'caller' && this.isRingingFor(undefined)) return this.pickup.deflect(destination, by);
    return this.transfers.transferTo(party, destination, by);
  }

  private controllableBridge(): { ok: true; value: Bridge } | { ok: false; status: 409; reason: string } {
    if (!this.bridge || !this.machine.is(CallState.Answered)) return { ok: false, status: 409, reason: 'The call is not answered' };
    return { ok: true, value: this.bridge };
  }

  // ------------------------------------------------------------------ ending

  /** Hangs up an answered call from our side (cd limit, shutdown) or after a BYE on one side. */
  hangup(by: HangupSide, status: number, reason: string): void {
    if (this.machine.is(CallState.Ended)) return;
    if (this.machine.is(CallState.Dialing)) {
      // Not answered yet (shutdown, missing dialplan): stop the legs and answer the caller.
      this.legs.cancel();
      const code = status >= 300 ? status : 503;
      this.callerLeg.respond(code, reason);
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
    // The caller's leg is side A's party from its answer on (or was handed on, and released then).
    this.bridge?.party('a').release();
    this.bridge?.party('b').release();
    this.parkingState?.leaveLot();
    this.consultState?.end();
    this.bridge?.close();
    // A transfer's new legs may still ring.
    this.legs.cancel();
    this.dialogs.releaseAll();
    const { dialStrings, legs } = this.legs.cdr();
    recordCallEnd({
      tenant: this.tenant, id: this.id, direction: this.direction, caller: this.caller, callee: this.callee,
      dialplan: this.dialplanName, dialStrings, legs, createdAt: this.createdAt,
      ringingAt: this.ringingAt, answeredAt: this.answeredAt, history: [...this.history],
    }, { by, status, reason, outcome, wasAnswered }, this.ctx.opts, this.log);
    this.ctx.callEnded(this);
  }

  // ------------------------------------------------------------------ what each feature sees of the call

  // The hosts every call hands its features are classes: an object literal with getters gets a
  // map of its own per call (its accessors are per-instance closures), a class shares one.

  /** Who and what the call is, as its dialplan and its legs see it. */
  private static readonly IdentityView = class implements CallIdentity {
    readonly tenant: TenantRef;
    readonly callId: string;
    readonly account: CallAccount;
    readonly direction: CallDirection;
    readonly dialplanName?: string;
    readonly opts: CallServiceOptions;
    readonly request: SipRequest;
    readonly sysDeps: SysFunctionDeps;
    constructor(protected readonly call: Call) {
      this.tenant = call.tenant; this.callId = call.id; this.account = call.account; this.direction = call.direction;
      this.dialplanName = call.dialplanName; this.opts = call.ctx.opts; this.request = call.req; this.sysDeps = call.sysDeps;
    }
  };

  /** This call as its dialplan run sees it. */
  private static readonly DialplanView = class extends Call.IdentityView implements CallDialplanHost {
    readonly inbound?: { provider: string; did?: string };
    readonly settings: LegSettings;
    readonly legs: CallLegs;
    constructor(call: Call) {
      super(call);
      this.inbound = call.inbound; this.settings = call.legSettings; this.legs = call.legs;
    }
    get log(): Logger { return this.call.log; }
    get dialing(): boolean { return this.call.machine.is(CallState.Dialing) && !this.call.callerLeg.final; }
    get cancelled(): boolean { return this.call.callerLeg.cancelled; }
    ringing(legId: number, target: string, sdp: string | undefined): void { this.call.onLegRinging(legId, target, sdp); }
    pickedUp(result: Parameters<CallDialplanHost['pickedUp']>[0]): ReturnType<CallDialplanHost['pickedUp']> { return this.call.pickup.dialOutcome(result); }
    bridgeTo(leg: BridgeableLeg, branch: UacBranch, legId: number, dialLimit?: number): void { this.call.bridgeTo(leg, branch, legId, dialLimit); }
    dropUnseated(): void { this.call.parties.dropUnseated(); }
    finishUnanswered(status: number, reason?: string, outcome?: DialOutcome, headers?: Record<string, string>): void {
      this.call.finishUnanswered(status, reason, outcome, headers);
    }
    callback(dest1: string, dest2: string): Promise<CallbackResult> { return this.call.callback(this.call.account, dest1, dest2); }
  };

  /** This call as its legs see it. */
  private static readonly LegsView = class extends Call.IdentityView implements CallLegsHost {
    readonly parties: CallParties;
    constructor(call: Call) {
      super(call);
      this.parties = call.parties;
    }
    get branchContext(): BranchContext { return this.call.branchContext; }
    get ended(): boolean { return this.call.machine.is(CallState.Ended); }
    ringing(username: string): () => void { return this.call.pickup.ringing(username); }
    callback(account: CallAccount, dest1: string, dest2: string): Promise<CallbackResult> { return this.call.callback(account, dest1, dest2); }
  };

  /** This call as its pickup sees it. */
  private static readonly PickupView = class implements PickupHost {
    readonly id: string;
    readonly tenant: TenantRef;
    readonly request: SipRequest;
    readonly history: CdrHistoryItem[];
    constructor(private readonly call: Call) {
      this.id = call.id; this.tenant = call.tenant; this.request = call.req; this.history = call.history;
    }
    get log(): Logger { return this.call.log; }
    emit(event: Parameters<PickupHost['emit']>[0]): void { this.call.ctx.opts.emit(event); }
    get dialing(): boolean { const c = this.call; return c.machine.is(CallState.Dialing) && !c.callerLeg.final && !c.callerLeg.cancelled; }
    get answered(): boolean { return this.call.machine.is(CallState.Answered); }
    get ended(): boolean { return this.call.machine.is(CallState.Ended); }
    cancelRinging(): void { this.call.legs.cancel(); }
    dropRinging(vacate: boolean): void {
      this.call.parties.dropRinging();
      if (vacate) this.call.parties.vacate('b');
    }
    dropUnseated(): void { this.call.parties.dropUnseated(); }
    ring(dialString: string): ReturnType<PickupHost['ring']> {
      const call = this.call;
      const plan = parseDialString(dialString, { dst: '', fromName: '', fromUriUser: '' });
      const scope: LegScope = { settings: call.legSettings, headers: [], chain: [], depth: 0 };
      return call.legs.forkLegs(plan, dialString, { ringTimeout: 30 }, scope, (legId, target, sdp) => call.onLegRinging(legId, target, sdp));
    }
    bridgeTo(leg: BridgeableLeg, branch: UacBranch, legId: number): void { this.call.bridgeTo(leg, branch, legId); }
    answerWithPhone(req: SipRequest, tx: ServerTransaction, toCaller: Buffer, toPicker: Buffer, picker?: CallAccount): boolean {
      return this.call.answerWithPhone(req, tx, toCaller, toPicker, picker);
    }
    recordTransfer(...args: Parameters<PickupHost['recordTransfer']>): void { this.call.transfers.record(...args); }
  };

  /** This call as its hold sees it. */
  private static readonly HoldView = class implements HoldHost {
    readonly id: string;
    readonly tenant: TenantRef;
    readonly history: CdrHistoryItem[];
    constructor(private readonly call: Call) {
      this.id = call.id; this.tenant = call.tenant; this.history = call.history;
    }
    get log(): Logger { return this.call.log; }
    emit(event: Parameters<HoldHost['emit']>[0]): void { this.call.ctx.opts.emit(event); }
    get otherChange(): boolean { const c = this.call; return c.parkingState?.current !== undefined || c.consultState?.active === true || c.transferring; }
    controllableBridge(): ReturnType<HoldHost['controllableBridge']> { return this.call.controllableBridge(); }
    nextSdpStep(side: BridgeSide): number { return ++this.call.sdpSteps[side]; }
  };
}
