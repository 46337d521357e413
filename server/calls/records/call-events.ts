import type { DialOutcome, LegState } from '../dial/index.ts';
import type { TransferPolicy } from '../dial/index.ts';

// The event shapes live in the one event catalogue (server/events); the calls layer emits them.
export type {
  CallDirection, CallParty, HangupSide, CallCreatedEvent, LegRingingEvent, CallAnsweredEvent, CallEndedEvent, CallEvent,
} from '../../events/index.ts';
import type { CallDirection, CallParty, HangupSide } from '../../events/index.ts';

export interface CdrLeg {
  legId: number;
  groupIndex: number;
  parentLegId?: number;
  /** Destination as dialled (normalized key from the dial string). */
  target: string;
  state: LegState;
  status?: number;
  reason?: string;
  transferPolicy?: TransferPolicy;
  startedAt?: number;
  ringingAt?: number;
  answeredAt?: number;
  endedAt?: number;
}

/**
 * What became of a REFER: `refused` (tr=n, or no transfer dialplan), `passed` to the other party
 * (tr=p), or for tr=c `accepted` (202) followed by `completed` or `failed`.
 */
export type TransferResult = 'refused' | 'passed' | 'accepted' | 'completed' | 'failed';

export interface CdrTransfer {
  at: number;
  kind: 'blind' | 'attended';
  result: TransferResult;
  referTo: string;
  /** CDR leg id of the party that sent the REFER (0: the caller). */
  legId: number;
  /** Final status: of the REFER (refused, passed) or of the new call (failed, completed). */
  status?: number;
  reason?: string;
  /** The leg that took the referrer's place (completed). */
  newLegId?: number;
  /** Attended transfer: the other call whose far party was joined into this one (or this call's party into). */
  joinedCallId?: string;
}

/**
 * An INVITE with Replaces (RFC 3891) took over one party's place in the call: a phone of the
 * tenant replaced `party`, or (pickup) answered the ringing call. `by` is the taking account.
 */
export interface CdrTakeover {
  at: number;
  type: 'replaced' | 'picked-up';
  party: 'caller' | 'callee';
  by: string;
}

/** Park, retrieve and recall of a parked call (slot numbers per tenant). */
export interface CdrParkChange {
  at: number;
  type: 'parked' | 'retrieved' | 'recalled';
  slot: string;
  by: string;
}

/** A call's hold or unhold by live call control. */
export interface CdrHoldChange {
  at: number;
  type: 'hold' | 'unhold';
  party: 'caller' | 'callee';
  /** Who asked (e.g. `api:receptionist@example.com`). */
  by: string;
}

/** What happened to a call after it was set up, in order. */
export type CdrHistoryItem = ({ type: 'transfer' } & CdrTransfer) | CdrHoldChange | CdrTakeover | CdrParkChange;

/** One row per call, written on hang-up (DESIGN.md step 6). */
export interface CdrRecord {
  tenantId: string;
  callId: string;
  direction: CallDirection;
  caller: CallParty;
  callee: CallParty;
  dialplan?: string;
  /** Dial strings the dialplan executed, in order. */
  dialStrings: string[];
  legs: CdrLeg[];
  createdAt: number;
  /** First 18x on any leg. */
  ringingAt?: number;
  answeredAt?: number;
  endedAt: number;
  /** Seconds from answer to hang-up; 0 when not answered. */
  durationSeconds: number;
  /** Seconds from creation to answer or end. */
  ringSeconds: number;
  outcome: DialOutcome;
  hungUpBy: HangupSide;
  status: number;
  reason: string;
  history: CdrHistoryItem[];
  /** The switchboard's note when the call ended (added by CallAnnotations' CDR sink). */
  note?: string;
}
