import { createResponse, dialogKey, dialogKeyOfRequest, reasonHeader, type SipRequest, type ServerTransaction } from '../../sip/index.ts';
import type { Bridge, BridgeSide } from '../bridge/index.ts';
import type { CallParties, LegOwner, PartyHold, UacBranch } from '../legs/index.ts';
import type { TransferResult } from '../records/index.ts';
import { parseReferTo, type ReferTarget, type TransferOutcome } from '../transfer/index.ts';
import { controlSide } from './control-side.ts';
import type { ControlParty, ControlResult } from './control-types.ts';
import { cancelConsult, completeConsult, startConsult, type Consult, type ConsultingCall } from './consult-transfer.ts';

/** What a switchboard consult needs of the call it works on (the Call implements it). */
export interface ConsultHost {
  readonly tenant: { domain: string };
  readonly bridge: Bridge | undefined;
  readonly ended: boolean;
  readonly mangleSdp: boolean;
  /** Parked or on hold: no consult now. */
  readonly otherChangeHolds: boolean;
  /** A change of the call's parties is under way (one at a time). */
  transferring: boolean;
  readonly parties: CallParties;
  controllableBridge(): { ok: true; value: Bridge } | { ok: false; status: 409; reason: string };
  nextSdpStep(side: BridgeSide): number;
  /** Places the consult call to the tenant's extension (late offer, like a transfer's new party). */
  place(destination: string): Promise<TransferOutcome>;
  /** The consult target's branch takes `side` of the bridge. */
  takeSide(side: BridgeSide, branch: UacBranch): void;
  /** Routes the consult target's dialog to this call as `side`'s (and forgets it when the call ends). */
  routeDialog(key: string, side: BridgeSide): void;
  unregisterDialog(key: string): void;
  setSideLegId(side: BridgeSide, legId: number): void;
  recordTransfer(result: TransferResult, side: BridgeSide, target: ReferTarget, detail: { status?: number; reason?: string; newLegId?: number; by?: string; attended: true }): void;
}

/**
 * The switchboard's attended transfer of one call: the operator's side consults an extension
 * while the other party waits on hold, then completes (the held party and the target are
 * joined) or cancels (back to the held call). The SIP mechanics are consult-transfer.ts's.
 */
export class CallConsult {
  /** The consultant talks to the target (its dialog key routes here); the other party waits on hold. */
  private consultation?: { consult: Consult; key: string; destination: string; by: string; holds?: PartyHold[] };

  constructor(private readonly host: ConsultHost) {}

  get active(): boolean {
    return this.consultation !== undefined;
  }

  /** A request in the consult target's dialog (not one of the call's sides). */
  owns(req: SipRequest): boolean {
    return this.consultation !== undefined && dialogKeyOfRequest(req) === this.consultation.key;
  }

  /** Step 1: `party` (the switchboard's side, e.g. the receptionist's phone) consults the extension `destination`; the other party waits on hold. */
  async start(party: ControlParty, destination: string, by: string): Promise<ControlResult> {
    const host = this.host;
    const bridge = host.controllableBridge();
    if (!bridge.ok) return bridge;
    if (this.consultation || host.otherChangeHolds || host.transferring || bridge.value.busy) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    if (!/^[A-Za-z0-9._+-]{1,64}$/.test(destination)) return { ok: false, status: 422, reason: 'destination must be an extension of the tenant' };
    const target = this.target(destination);
    host.transferring = true;
    try {
      host.recordTransfer('accepted', controlSide(party), target, { by, attended: true });
      const r = await startConsult(this.consulting(destination), controlSide(party));
      if (!r.ok) {
        host.parties.dropUnseated();
        if (!host.ended) host.recordTransfer('failed', controlSide(party), target, { status: r.status, reason: r.reason, by, attended: true });
        return r;
      }
      const key = dialogKey(r.value.target.dialog!.id);
      // The target's account is a party (busy) while it talks to the consultant; it takes a side at completion.
      this.consultation = { consult: r.value, key, destination, by, holds: host.parties.setAside() };
      // Until it takes a side at completion, the consult, not the bridge, hears the target's dialog.
      r.value.target.attach(this.targetOwner);
      host.routeDialog(key, r.value.consultant);
      return { ok: true };
    } finally {
      host.transferring = false;
    }
  }

  /** Step 2: the held party and the consult target are joined; the consultant leaves. */
  async complete(by: string): Promise<ControlResult> {
    const host = this.host;
    const c = this.consultation;
    if (!c || !host.bridge) return { ok: false, status: 409, reason: 'No consult call in progress' };
    if (host.transferring) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    host.transferring = true;
    try {
      const r = await completeConsult(this.consulting(c.destination), c.consult, (side, branch) => {
        host.takeSide(side, branch);
        host.parties.seat(side, 'join', c.holds);
      });
      if (!r.ok) return r;
      this.consultation = undefined;
      host.setSideLegId(c.consult.consultant, c.consult.legId);
      host.recordTransfer('completed', c.consult.consultant, this.target(c.destination), { status: 200, newLegId: c.consult.legId, by, attended: true });
      return { ok: true };
    } finally {
      host.transferring = false;
    }
  }

  /** Or step 2: the consult target is hung up, consultant and held party talk again. */
  async cancel(by: string): Promise<ControlResult> {
    const host = this.host;
    const c = this.consultation;
    if (!c || !host.bridge) return { ok: false, status: 409, reason: 'No consult call in progress' };
    if (host.transferring) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    this.consultation = undefined;
    host.unregisterDialog(c.key);
    host.transferring = true;
    try {
      const r = await cancelConsult(this.consulting(c.destination), c.consult);
      // The consult target answered but never took a side of the call.
      for (const h of c.holds ?? []) host.parties.drop(h);
      host.recordTransfer('failed', c.consult.consultant, this.target(c.destination), { status: 487, reason: 'Consult cancelled', by, attended: true });
      return r.ok ? { ok: true } : r;
    } finally {
      host.transferring = false;
    }
  }

  /** A request in the consult target's dialog: its leg sorts it for `targetOwner`. */
  handleTargetRequest(req: SipRequest, tx: ServerTransaction | undefined): void {
    this.consultation!.consult.target.receive(req, tx);
  }

  /** The consult target talks only to the consultant: its BYE ends the consult (the two parties are joined again), the rest is answered here. */
  private readonly targetOwner: LegOwner = {
    ack: () => {},
    bye: (req, tx) => {
      tx.respond(createResponse(req, 200));
      void this.cancel('consult target');
    },
    reinvite: (req, tx) => tx.respond(createResponse(req, 491)),
    refer: (req, tx) => tx.respond(createResponse(req, 603, 'A consult call cannot be transferred')),
    request: (req, tx) => tx.respond(createResponse(req, 200)),
  };

  /** The call ends: the consult target is hung up too. */
  end(): void {
    this.consultation?.consult.target.bye([reasonHeader(200, 'Call ended')]);
    this.consultation = undefined;
  }

  private consulting(destination: string): ConsultingCall {
    const host = this.host;
    return {
      bridge: host.bridge!,
      get ended() { return host.ended; },
      mangleSdp: host.mangleSdp,
      nextSdpStep: (side) => host.nextSdpStep(side),
      place: () => host.place(destination),
    };
  }

  private target(destination: string): ReferTarget {
    const parsed = parseReferTo(`<sip:${destination}@${this.host.tenant.domain}>`);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.target;
  }
}
