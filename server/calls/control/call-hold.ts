import type { Logger } from 'pino';
import type { Bridge, BridgeSide } from '../bridge/index.ts';
import type { CallServiceEvent } from '../call-service-deps.ts';
import type { CdrHistoryItem } from '../records/index.ts';
import type { ControlParty, ControlResult } from './control-types.ts';
import { holdParty, unholdParty, type HoldState } from './hold-control.ts';
import { firstMediaDirection } from '../bridge/index.ts';
import { controlSide } from './control-side.ts';

/** What putting a party of a call on hold needs of the call (the Call implements it). */
export interface HoldHost {
  readonly id: string;
  readonly tenant: { id: number };
  readonly log: Logger;
  readonly history: CdrHistoryItem[];
  emit(event: CallServiceEvent): void;
  /** Parked, in a consult or a transfer: no hold now. */
  readonly otherChange: boolean;
  controllableBridge(): { ok: true; value: Bridge } | { ok: false; status: 409; reason: string };
  nextSdpStep(side: BridgeSide): number;
}

/**
 * Who is on hold in a call, and its history lines: the switchboard's hold of one party (the SDP
 * mechanics are hold-control.ts's) and a phone's own hold (its re-INVITE said `sendonly` or
 * `inactive`), so a hold pressed on a phone shows on the switchboard and the lamps like any other.
 */
export class CallHold {
  /** The held party and both sessions as they were before the hold (what unhold restores). */
  private held?: HoldState;
  /** A hold one party's phone made: the other party is held until that phone's next offer resumes. */
  private phoneHeld?: { party: ControlParty; bySide: BridgeSide };

  constructor(private readonly host: HoldHost) {}

  /** Who is on hold, if anybody. */
  get party(): ControlParty | undefined {
    return this.held?.party ?? this.phoneHeld?.party;
  }

  /**
   * A re-INVITE/UPDATE offer from `side`'s phone was accepted: `sendonly`/`inactive` (or the old
   * `c=0.0.0.0`) holds the other party, `sendrecv`/`recvonly` from the same phone resumes it.
   * While the switchboard holds the call, the phones' offers are the switch's business, not a hold.
   */
  phoneOffer(side: BridgeSide, offer: Buffer, by: string): void {
    if (this.held) return;
    let holding: boolean;
    try {
      const direction = firstMediaDirection(offer);
      holding = direction === 'sendonly' || direction === 'inactive' || /^c=IN IP4 0\.0\.0\.0\s*$/m.test(offer.toString('latin1'));
    } catch {
      return;
    }
    const party: ControlParty = side === 'a' ? 'callee' : 'caller';
    if (holding && !this.phoneHeld) {
      this.phoneHeld = { party, bySide: side };
      this.record('hold', party, by);
    } else if (!holding && this.phoneHeld?.bySide === side) {
      this.phoneHeld = undefined;
      this.record('unhold', party, by);
    }
  }

  /**
   * `side`'s party changed (transfer, pickup, park, a phone's INVITE/Replaces): a phone's hold that
   * involved it is over, and so is the switchboard's hold of that party — the newcomer brings its
   * own session, nobody holds it.
   */
  sideReplaced(by: string, side: BridgeSide): void {
    const phoneHeld = this.phoneHeld;
    if (phoneHeld) {
      this.phoneHeld = undefined;
      this.record('unhold', phoneHeld.party, by);
    }
    const held = this.held;
    if (held && controlSide(held.party) === side) {
      this.held = undefined;
      this.record('unhold', held.party, by);
    }
  }

  /** Who the switchboard holds (a phone's own hold does not stop a park, a consult or an unhold of its own). */
  get switchboardParty(): ControlParty | undefined {
    return this.held?.party;
  }

  /** Puts `party` on hold; a parked call or one in a consult cannot be held. */
  async hold(party: ControlParty, by: string): Promise<ControlResult> {
    const host = this.host;
    const bridge = host.controllableBridge();
    if (!bridge.ok) return bridge;
    if (this.held) return this.held.party === party ? { ok: true } : { ok: false, status: 409, reason: `The ${this.held.party} is on hold` };
    if (this.phoneHeld) return { ok: false, status: 409, reason: `The ${this.phoneHeld.party} is on hold from the other phone` };
    if (host.otherChange) return { ok: false, status: 409, reason: 'Another change of this call is under way' };
    const r = await holdParty(bridge.value, party, (side) => host.nextSdpStep(side));
    if (!r.ok) return r;
    this.held = r.state;
    this.record('hold', party, by);
    return { ok: true };
  }

  async unhold(by: string): Promise<ControlResult> {
    const bridge = this.host.controllableBridge();
    if (!bridge.ok) return bridge;
    const held = this.held;
    if (!held && this.phoneHeld) return { ok: false, status: 409, reason: `The ${this.phoneHeld.party} was put on hold by the other phone; that phone takes it back` };
    if (!held) return { ok: false, status: 409, reason: 'Nobody is on hold' };
    const r = await unholdParty(bridge.value, held, (side) => this.host.nextSdpStep(side));
    if (!r.ok) return r;
    this.held = undefined;
    this.record('unhold', held.party, by);
    return { ok: true };
  }

  private record(type: 'hold' | 'unhold', party: ControlParty, by: string): void {
    const host = this.host;
    // The leg itself says it is held, for whoever looks at the bridge's parties (a replaced party's leg has left).
    const bridge = host.controllableBridge();
    if (bridge.ok) bridge.value.party(controlSide(party)).held = type === 'hold';
    const at = Date.now();
    host.history.push({ type, at, party, by });
    host.log.info({ party, by }, type === 'hold' ? 'call held' : 'call unheld');
    host.emit({ type: type === 'hold' ? 'call.held' : 'call.unheld', tenantId: host.tenant.id, callId: host.id, at, party, by });
  }
}
