import type { Logger } from 'pino';
import type { Bridge, BridgeSide } from '../bridge/index.ts';
import type { CallServiceEvent } from '../call-service-deps.ts';
import type { CdrHistoryItem } from '../records/index.ts';
import type { ControlParty, ControlResult } from './control-types.ts';
import { holdParty, unholdParty, type HoldState } from './hold-control.ts';

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

/** The switchboard's hold of one party of a call (the SDP mechanics are hold-control.ts's), and its history lines. */
export class CallHold {
  /** The held party and both sessions as they were before the hold (what unhold restores). */
  private held?: HoldState;

  constructor(private readonly host: HoldHost) {}

  /** Who is on hold, if anybody. */
  get party(): ControlParty | undefined {
    return this.held?.party;
  }

  /** Puts `party` on hold; a parked call or one in a consult cannot be held. */
  async hold(party: ControlParty, by: string): Promise<ControlResult> {
    const host = this.host;
    const bridge = host.controllableBridge();
    if (!bridge.ok) return bridge;
    if (this.held) return this.held.party === party ? { ok: true } : { ok: false, status: 409, reason: `The ${this.held.party} is on hold` };
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
    if (!held) return { ok: false, status: 409, reason: 'Nobody is on hold' };
    const r = await unholdParty(bridge.value, held, (side) => this.host.nextSdpStep(side));
    if (!r.ok) return r;
    this.held = undefined;
    this.record('unhold', held.party, by);
    return { ok: true };
  }

  private record(type: 'hold' | 'unhold', party: ControlParty, by: string): void {
    const host = this.host;
    const at = Date.now();
    host.history.push({ type, at, party, by });
    host.log.info({ party, by }, type === 'hold' ? 'call held' : 'call unheld');
    host.emit({ type: type === 'hold' ? 'call.held' : 'call.unheld', tenantId: host.tenant.id, callId: host.id, at, party, by });
  }
}
