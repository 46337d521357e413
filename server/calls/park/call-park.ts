import type { Logger } from 'pino';
import { createResponse, newTag, reasonHeader, retransmit2xxUntilAck, type Invite2xxRetransmitter, type SipRequest, type SipUri } from '../../sip/index.ts';
import type { ServerTransaction, SipStack } from '../../sip/index.ts';
import { holdSdp, otherSide, sendInDialog, type Bridge, type BridgeSide } from '../bridge/index.ts';
import type { CallAccount, CallServiceEvent } from '../call-service-deps.ts';
import type { ControlParty, ControlResult } from '../control/control-types.ts';
import { controlSide } from '../control/control-side.ts';
import { uriText } from '../dialplan/index.ts';
import type { LegOwner } from '../legs/index.ts';
import type { CallDirection, CdrHistoryItem, HangupSide, TransferResult } from '../records/index.ts';
import { blindTransfer, referNotify, transferByDial, type ReferTarget, type TransferringCall } from '../transfer/index.ts';
import type { ParkedCall, ParkingLot } from './parking-lot.ts';

/** Where a parked call waits: `side` is the parked party, on hold; the other side is vacant. */
export interface ParkedState {
  slot: string;
  side: BridgeSide;
  by: string;
  /** The parker's extension, rung at the recall. */
  recallTo?: string;
}

export type ParkFailure = { ok: false; status: 404 | 409 | 422 | 502; reason: string };

/** What parking needs of the call it works on (the Call implements it). */
export interface ParkHost<C extends ParkedCall> {
  /** The call as the lot holds it. */
  readonly self: C;
  readonly tenant: { id: number; domain: string };
  readonly direction: CallDirection;
  readonly account: CallAccount;
  readonly lot: ParkingLot<C>;
  readonly stack: SipStack;
  readonly log: Logger;
  readonly history: CdrHistoryItem[];
  emit(event: CallServiceEvent): void;
  readonly bridge: Bridge | undefined;
  readonly answered: boolean;
  readonly ended: boolean;
  readonly onHold: boolean;
  /** A change of the call's parties is under way (one at a time). */
  transferring: boolean;
  controllableBridge(): { ok: true; value: Bridge } | { ok: false; status: 409; reason: string };
  nextSdpStep(side: BridgeSide): number;
  /** `side`'s party got BYE and nobody takes its place yet: its accounts and dialog leave the call. */
  vacate(side: BridgeSide): void;
  /** The CDR leg now on `side`. */
  setSideLegId(side: BridgeSide, legId: number): void;
  /** Accounts admitted for a side that never took it go. */
  dropUnseated(): void;
  transferringCall(): TransferringCall;
  /** A phone's INVITE takes `side` (INVITE/Replaces mechanics); false when it was refused. */
  takeOver(side: BridgeSide, req: SipRequest, tx: ServerTransaction, by: string, kind: 'retrieved', taker?: CallAccount): Promise<boolean>;
  hangup(by: HangupSide, status: number, reason: string): void;
  recordTransfer(result: TransferResult, side: BridgeSide, target: ReferTarget, detail: { status?: number; reason?: string }): void;
}

/**
 * The park of one call: park a party into a slot of the tenant (REST, or a phone's REFER to a
 * slot), answer the parked party while nobody talks to it, retrieve (REST, a phone dialling the
 * slot) and recall to the parker when the slot's time runs out.
 */
export class CallPark<C extends ParkedCall> {
  private parked?: ParkedState;
  /** Our 2xx to the parked party's re-INVITE, resent until its ACK (UDP). */
  private resending?: { seq: number; retransmitter: Invite2xxRetransmitter };

  constructor(private readonly host: ParkHost<C>) {}

  get current(): ParkedState | undefined {
    return this.parked;
  }

  /** The parked party's URI, if parked (the lot's list view). */
  get parkedPartyUri(): string | undefined {
    const bridge = this.host.bridge;
    return this.parked && bridge ? uriText(bridge.party(this.parked.side).dialog.remoteParty.uri) : undefined;
  }

  /** A Refer-To naming one of the tenant's park slots (`sip:71@<tenant domain>`). */
  isSlot(uri: SipUri): boolean {
    return uri.host.toLowerCase() === this.host.tenant.domain && this.host.lot.isSlot(this.host.tenant.id, uri.user);
  }

  /** tr=c REFER to a slot: the other party is parked there, the referrer hears NOTIFY 200 and gets BYE. */
  async byRefer(side: BridgeSide, req: SipRequest, tx: ServerTransaction, target: ReferTarget): Promise<void> {
    const host = this.host;
    tx.respond(createResponse(req, 202, 'Accepted'));
    host.recordTransfer('accepted', side, target, {});
    const referrer = host.bridge!.party(side);
    const notify = (status: number, reason: string): void => {
      if (!referrer.dialog.terminated) void sendInDialog(host.stack, referrer.dialog, referNotify(status, reason));
    };
    notify(100, 'Trying');
    const by = uriText(referrer.dialog.remoteParty.uri);
    const r = await this.parkSide(otherSide(side), target.uri.user, by, this.extensionOf(side), () => notify(200, 'OK'));
    if (!r.ok) {
      notify(r.status === 409 ? 486 : r.status, r.reason);
      host.recordTransfer('failed', side, target, { status: r.status, reason: r.reason });
      return;
    }
    host.recordTransfer('completed', side, target, { status: 200 });
  }

  /** Live call control: park `party` (it stays, on hold); the other party leaves. */
  async park(party: ControlParty, slot: string | undefined, by: string): Promise<ControlResult & { slot?: string }> {
    const stay = controlSide(party);
    // The recall goes to the call's own account when that is the party who left (not the parked one).
    const own: BridgeSide = this.host.direction === 'outbound' ? 'a' : 'b';
    const r = await this.parkSide(stay, slot, by, own === stay ? undefined : this.host.account.username);
    return r.ok ? { ok: true, slot: r.slot } : r;
  }

  /**
   * The parked party talks to nobody: the switch is its leg's owner until it is retrieved, and
   * answers its requests itself (the leg sorted them already). A re-INVITE or UPDATE (session
   * refresh, its own hold) gets the held session we gave it.
   */
  private parkedLegOwner(side: BridgeSide, bridge: Bridge): LegOwner {
    return {
      ack: (req) => {
        if (this.resending?.seq !== req.cseq.seq) return;
        this.resending.retransmitter.stop();
        this.resending = undefined;
      },
      bye: (req, tx) => {
        tx.respond(createResponse(req, 200));
        this.host.hangup(side === 'a' ? 'caller' : 'callee', 200, 'Parked party hung up');
      },
      reinvite: (req, tx) => {
        const dialog = bridge.party(side).dialog;
        dialog.refreshTarget(req);
        const sdp = bridge.sdpSentTo(side);
        const res = createResponse(req, 200, 'OK', { headers: { Contact: dialog.localContact }, body: sdp, contentType: sdp ? 'application/sdp' : undefined });
        tx.respond(res);
        if (req.method !== 'INVITE' || req.source?.transport !== 'udp') return;
        this.resending?.retransmitter.stop();
        const retransmitter = retransmit2xxUntilAck(this.host.stack, res, req.source, () => { this.resending = undefined; });
        this.resending = { seq: req.cseq.seq, retransmitter };
      },
      refer: (req, tx) => tx.respond(createResponse(req, 603, 'A parked call cannot be transferred')),
      request: (req, tx) => tx.respond(createResponse(req, 200)),
    };
  }

  /** The parked party talks to somebody again: its leg is the bridge's once more. */
  private unpark(): void {
    const parked = this.parked;
    if (!parked) return;
    this.parked = undefined;
    this.resending?.retransmitter.stop();
    this.resending = undefined;
    this.host.bridge?.reclaim(parked.side);
  }

  /** The park recall timer fired (the lot already freed the slot): ring the parker, or end the call. */
  recall(): void {
    const parked = this.parked;
    if (!parked || this.host.ended) return;
    if (!parked.recallTo) {
      this.host.hangup('system', 480, 'Park timeout, nobody to recall');
      return;
    }
    void this.retrieveTo(parked.recallTo, 'system', 'recalled').then((r) => {
      if (!r.ok && !this.host.ended) this.host.hangup('system', 480, 'Park recall not answered');
    });
  }

  /**
   * Connects the parked party to the tenant's extension `destination` (REST retrieve, recall): it
   * is dialled with a late offer like a transfer's new party. On failure a retrieve leaves the
   * call parked in its slot.
   */
  async retrieveTo(destination: string, by: string, kind: 'retrieved' | 'recalled' = 'retrieved'): Promise<ControlResult> {
    const host = this.host;
    const parked = this.parked;
    if (!parked || !host.bridge || !host.answered) return { ok: false, status: 409, reason: 'The call is not parked' };
    if (host.transferring) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    if (!/^[A-Za-z0-9._+-]{1,64}$/.test(destination)) return { ok: false, status: 422, reason: 'destination must be an extension of the tenant' };
    host.lot.leave(host.tenant.id, parked.slot);
    host.transferring = true;
    try {
      const vacant = otherSide(parked.side);
      const r = await blindTransfer(host.transferringCall(), { leave: vacant, place: transferByDial(`${destination}@local`), progress: () => undefined });
      host.dropUnseated();
      if (!r.ok) {
        if (kind === 'retrieved' && !host.ended) host.lot.park(host.tenant.id, parked.slot, host.self, parked.by);
        return { ok: false, status: 502, reason: `Retrieve failed: ${r.status} ${r.reason}` };
      }
      this.unpark();
      host.setSideLegId(vacant, r.newLegId);
      this.record(kind, parked.slot, by, destination);
      return { ok: true };
    } finally {
      host.transferring = false;
    }
  }

  /** A phone of the tenant dialled the slot: it takes the vacant side (like INVITE/Replaces). */
  async retrieveByPhone(req: SipRequest, tx: ServerTransaction, by: string, taker?: CallAccount): Promise<boolean> {
    const host = this.host;
    const parked = this.parked;
    if (!parked) {
      tx.respond(createResponse(req, 404, 'Nothing parked there', { toTag: newTag() }));
      return false;
    }
    host.lot.leave(host.tenant.id, parked.slot);
    const taken = await host.takeOver(otherSide(parked.side), req, tx, by, 'retrieved', taker);
    if (!taken && !host.ended) host.lot.park(host.tenant.id, parked.slot, host.self, parked.by);
    return taken;
  }

  /** The phone that dialled the slot took the vacant side (the takeover answered it). */
  takenByPhone(by: string): void {
    const slot = this.parked?.slot ?? '';
    this.unpark();
    this.record('retrieved', slot, by, by);
  }

  /** The call ends: its slot is free. */
  leaveLot(): void {
    if (this.parked) this.host.lot.leave(this.host.tenant.id, this.parked.slot);
    this.resending?.retransmitter.stop();
    this.resending = undefined;
  }

  /**
   * The tenant account on `side`, if that party is one: the caller of an outgoing call, or a
   * callee reached as an account of the tenant (To in the tenant's domain). Park recalls go there.
   */
  private extensionOf(side: BridgeSide): string | undefined {
    const host = this.host;
    if (side === 'a') return host.direction === 'outbound' ? host.account.username : undefined;
    if (host.direction === 'inbound') return host.account.username;
    const uri = host.bridge?.party('b').dialog.remoteParty.uri;
    return uri && uri.host.toLowerCase() === host.tenant.domain ? uri.user : undefined;
  }

  /**
   * Parks the party on `stay` in `slot` (or the tenant's first free one): it is re-INVITEd on
   * hold (a held party hears silence; holdSdp is where music on hold plugs in), the other party
   * gets BYE, and the slot's recall timer starts. `beforeBye` runs once the park holds.
   */
  private async parkSide(stay: BridgeSide, slot: string | undefined, by: string, recallTo: string | undefined, beforeBye?: () => void):
    Promise<{ ok: true; slot: string } | ParkFailure> {
    const host = this.host;
    const lot = host.lot;
    const tenantId = host.tenant.id;
    // The tenant's own slot range, read once (before the checks, which then hold until lot.park).
    const settingsRead = lot.ready(tenantId);
    if (settingsRead) await settingsRead;
    const bridge = host.controllableBridge();
    if (!bridge.ok) return bridge;
    if (this.parked) return { ok: false, status: 409, reason: `The call is already parked in ${this.parked.slot}` };
    if (host.onHold) return { ok: false, status: 409, reason: 'Unhold the call first' };
    const chosen = slot ?? lot.firstFree(tenantId);
    if (!chosen) return { ok: false, status: 409, reason: 'No free park slot' };
    const { first, last } = lot.settingsFor(tenantId);
    if (!lot.isSlot(tenantId, chosen)) return { ok: false, status: 422, reason: `${chosen} is not a park slot (${first}-${last})` };
    if (!lot.park(tenantId, chosen, host.self, by)) return { ok: false, status: 409, reason: `Slot ${chosen} is taken` };
    const before = bridge.value.sdpSentTo(stay);
    const r = before
      ? await bridge.value.send(stay, { method: 'INVITE', body: holdSdp(before, host.nextSdpStep(stay)), contentType: 'application/sdp' })
      : { status: 409, reason: 'The call has no session to hold' };
    if (r.status >= 300 || host.ended) {
      lot.leave(tenantId, chosen);
      return { ok: false, status: 502, reason: `Park re-INVITE answered ${r.status} ${r.reason}` };
    }
    const vacant = otherSide(stay);
    this.parked = { slot: chosen, side: stay, by, recallTo };
    bridge.value.lend(stay, this.parkedLegOwner(stay, bridge.value));
    beforeBye?.();
    bridge.value.party(vacant).bye([reasonHeader(200, 'Call parked')]);
    host.vacate(vacant);
    this.record('parked', chosen, by);
    return { ok: true, slot: chosen };
  }

  private record(type: 'parked' | 'retrieved' | 'recalled', slot: string, by: string, destination?: string): void {
    const at = Date.now();
    this.host.history.push({ type, at, slot, by });
    this.host.log.info({ slot, by, destination }, `call ${type}`);
    this.host.emit({ type: `call.${type}`, tenantId: this.host.tenant.id, callId: this.host.self.id, at, slot, by, destination });
  }
}
