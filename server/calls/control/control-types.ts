import type { CallParty, CdrHistoryItem } from '../records/index.ts';

/** The two parties of a bridged call as the switchboard names them: the caller's side and the other. */
export type ControlParty = 'caller' | 'callee';

/** What a live-call action did: done, or the HTTP-like status and reason it was refused with. */
export type ControlResult = { ok: true } | { ok: false; status: 404 | 409 | 422 | 502; reason: string };

export interface LiveCallView {
  id: string;
  direction: string;
  state: string;
  caller: CallParty;
  callee: CallParty;
  createdAt: number;
  answeredAt?: number;
  /** The party on hold, if any. */
  held?: ControlParty;
  /** The park slot the call waits in, if parked. */
  parkedIn?: string;
  history: CdrHistoryItem[];
  /** The tenant phonebook's name for the caller's number, else the caller's SIP display name (CallAnnotations). */
  callerName?: string;
  /** The switchboard's note on the call. */
  note?: string;
  /** Epoch ms the held party was put on hold. */
  heldAt?: number;
}

/** A call as live call control drives it (CallService's calls and callbacks). */
export interface ControllableCall {
  readonly id: string;
  readonly tenantId: number;
  view(): LiveCallView;
  hangup(by: 'system', status: number, reason: string): void;
  hold(party: ControlParty, by: string): Promise<ControlResult>;
  unhold(by: string): Promise<ControlResult>;
  /** Blind transfer: `party` stays and is connected to `destination` (through the tenant's transfer dialplan); the other party leaves. */
  transfer(party: ControlParty, destination: string, by: string): Promise<ControlResult>;
  /** Switchboard attended transfer: `party` consults `destination` while the other party waits on hold; then complete or cancel. */
  consultStart(party: ControlParty, destination: string, by: string): Promise<ControlResult>;
  consultComplete(by: string): Promise<ControlResult>;
  consultCancel(by: string): Promise<ControlResult>;
  /** Parks `party` in `slot` (or the first free one); the other party leaves. */
  park(party: ControlParty, slot: string | undefined, by: string): Promise<ControlResult & { slot?: string }>;
}

/** A parked call as the API lists it. */
export interface ParkedCallView {
  slot: string;
  callId: string;
  parkedAt: number;
  parkedBy: string;
  /** The parked party (as its URI). */
  party: string;
}
