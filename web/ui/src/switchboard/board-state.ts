import type { EventSnapshot, StreamEvent } from '../api/index.ts';

/**
 * The switchboard's whole picture of the tenant, built only from the event stream: a snapshot
 * replaces it, each ordered event moves it on. Nothing here is ever set because the page asked
 * for a change (no optimistic state): an action's effect shows when the switch's event arrives.
 */

export interface BoardParty {
  uri: string;
  displayName?: string;
  account?: string;
}

export type ControlParty = 'caller' | 'callee';

/** What a call is doing, in the order the calls list groups them. */
export enum CallPhase {
  Ringing = 'ringing',
  Dialing = 'dialing',
  Answered = 'answered',
  Held = 'held',
  Parked = 'parked',
}

export interface BoardCall {
  id: string;
  direction: string;
  caller: BoardParty;
  callee: BoardParty;
  createdAt: number;
  /** First leg.ringing seen (the snapshot does not say: then createdAt). */
  ringingAt?: number;
  answeredAt?: number;
  held?: ControlParty;
  heldAt?: number;
  parkedIn?: string;
  parkedAt?: number;
  /** A switchboard consult (attended transfer) under way: who is being consulted, since when. */
  consult?: { referTo: string; since: number };
  /** A blind transfer under way. */
  transferring?: { referTo: string; since: number };
  /** Phonebook name or SIP display name of the caller (switchboard server, when present). */
  callerName?: string;
  note?: string;
}

export interface BoardExtension {
  accountId: number;
  user: string;
  state: string;
  callIds: string[];
  /** When the lamp last changed state (the snapshot does not say: null). */
  since: number | null;
  dnd: boolean;
  /** The account's display name, shown beside the extension number. */
  label?: string;
}

export interface ParkedEntry {
  slot: string;
  callId: string;
  parkedAt: number;
  parkedBy?: string;
  /** The parked party as a URI. */
  party: string;
}

export interface BoardState {
  calls: Readonly<Record<string, BoardCall>>;
  extensions: Readonly<Record<string, BoardExtension>>;
  parking: Readonly<Record<string, ParkedEntry>>;
  /** Sequence number of the last snapshot or event applied; null before the first snapshot. */
  seq: number | null;
  /** After `resync`: what is shown is old until the next snapshot. */
  stale: boolean;
}

export type BoardAction =
  | { type: 'snapshot'; snapshot: EventSnapshot }
  | { type: 'event'; event: StreamEvent }
  | { type: 'resync' };

export const EMPTY_BOARD: BoardState = { calls: {}, extensions: {}, parking: {}, seq: null, stale: false };

// ------------------------------------------------------------------ reading loose JSON

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const partyOf = (v: unknown): ControlParty | undefined => (v === 'caller' || v === 'callee' ? v : undefined);

function party(v: unknown): BoardParty {
  const p = obj(v);
  return { uri: str(p['uri']) ?? '', ...(str(p['displayName']) && { displayName: str(p['displayName']) }), ...(str(p['account']) && { account: str(p['account']) }) };
}

function timeOf(e: StreamEvent): number {
  const t = typeof e.time === 'number' ? e.time : Date.parse(String(e.time));
  return Number.isFinite(t) ? t : Date.now();
}

/** The last history item of `type` with no later item of `undone` (e.g. a hold not yet unheld). */
function openHistory(history: Json[], type: string, undone: string[]): Json | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    if (undone.includes(String(h['type']))) return undefined;
    if (h['type'] === type) return h;
  }
  return undefined;
}

function callFromView(raw: unknown): BoardCall | null {
  const v = obj(raw);
  const id = str(v['id']);
  if (!id) return null;
  const history = Array.isArray(v['history']) ? v['history'].map(obj) : [];
  const held = partyOf(v['held']);
  const parkedIn = str(v['parkedIn']);
  const holdItem = held ? openHistory(history, 'hold', ['unhold']) : undefined;
  const parkItem = parkedIn ? openHistory(history, 'parked', ['retrieved', 'recalled']) : undefined;
  // A consult started by call control whose outcome is not in the history yet.
  let consult: BoardCall['consult'];
  for (const h of history) {
    if (h['type'] !== 'transfer' || h['kind'] !== 'attended' || !h['by']) continue;
    if (h['result'] === 'accepted') consult = { referTo: str(h['referTo']) ?? '', since: num(h['at']) ?? Date.now() };
    else consult = undefined;
  }
  const createdAt = num(v['createdAt']) ?? Date.now();
  return {
    id,
    direction: str(v['direction']) ?? 'internal',
    caller: party(v['caller']),
    callee: party(v['callee']),
    createdAt,
    ringingAt: createdAt,
    ...(num(v['answeredAt']) !== undefined && { answeredAt: num(v['answeredAt']) }),
    ...(held && { held, heldAt: num(v['heldAt']) ?? num(holdItem?.['at']) ?? Date.now() }),
    ...(parkedIn && { parkedIn, parkedAt: num(parkItem?.['at']) ?? Date.now() }),
    ...(consult && { consult }),
    ...(str(v['callerName']) && { callerName: str(v['callerName']) }),
    ...(str(v['note']) && { note: str(v['note']) }),
  };
}

function extensionFrom(raw: unknown, since: number | null, previous?: BoardExtension): BoardExtension | null {
  const x = obj(raw);
  const user = str(x['user']);
  if (!user) return null;
  const state = str(x['state']) ?? 'offline';
  return {
    accountId: num(x['accountId']) ?? previous?.accountId ?? 0,
    user,
    state,
    callIds: Array.isArray(x['callIds']) ? x['callIds'].filter((c): c is string => typeof c === 'string') : [],
    since: previous && previous.state === state ? previous.since : since,
    dnd: typeof x['dnd'] === 'boolean' ? x['dnd'] : previous?.dnd ?? false,
    ...(str(x['label']) && { label: str(x['label']) }),
  };
}

function parkedFrom(raw: unknown): ParkedEntry | null {
  const p = obj(raw);
  const slot = str(p['slot']);
  const callId = str(p['callId']);
  if (!slot || !callId) return null;
  return { slot, callId, parkedAt: num(p['parkedAt']) ?? Date.now(), ...(str(p['parkedBy']) && { parkedBy: str(p['parkedBy']) }), party: str(p['party']) ?? party(p['caller']).uri };
}

// ------------------------------------------------------------------ the reducer

function fromSnapshot(s: EventSnapshot): BoardState {
  const calls: Record<string, BoardCall> = {};
  for (const raw of s.calls) {
    const c = callFromView(raw);
    if (c) calls[c.id] = c;
  }
  const extensions: Record<string, BoardExtension> = {};
  for (const raw of s.extensions) {
    const x = extensionFrom(raw, null);
    if (x) extensions[x.user] = x;
  }
  const parking: Record<string, ParkedEntry> = {};
  for (const raw of s.parking) {
    const p = parkedFrom(raw);
    if (p) parking[p.slot] = p;
  }
  // A parked call's time is the slot's (the view's history may have been trimmed).
  for (const p of Object.values(parking)) {
    const c = calls[p.callId];
    if (c) calls[p.callId] = { ...c, parkedIn: p.slot, parkedAt: p.parkedAt };
  }
  return { calls, extensions, parking, seq: s.seq, stale: false };
}

function withCall(state: BoardState, id: string, change: (c: BoardCall) => BoardCall): BoardState {
  const c = state.calls[id];
  if (!c) return state;
  return { ...state, calls: { ...state.calls, [id]: change(c) } };
}

function applyEvent(state: BoardState, e: StreamEvent): BoardState {
  const at = timeOf(e);
  const callId = str(e['callId']) ?? '';
  switch (e.type) {
    case 'call.created': {
      if (!callId || state.calls[callId]) return state;
      const call: BoardCall = {
        id: callId, direction: str(e['direction']) ?? 'internal', caller: party(e['caller']), callee: party(e['callee']), createdAt: at,
        ...(str(e['callerName']) && { callerName: str(e['callerName']) }),
        ...(str(e['note']) && { note: str(e['note']) }),
      };
      return { ...state, calls: { ...state.calls, [callId]: call } };
    }
    case 'leg.ringing':
      return withCall(state, callId, (c) => (c.ringingAt === undefined ? { ...c, ringingAt: at } : c));
    case 'call.answered':
      return withCall(state, callId, (c) => ({ ...c, answeredAt: c.answeredAt ?? at, caller: party(e['caller']), callee: party(e['callee']) }));
    case 'call.held': {
      const p = partyOf(e['party']);
      return p ? withCall(state, callId, (c) => ({ ...c, held: p, heldAt: at })) : state;
    }
    case 'call.unheld':
      return withCall(state, callId, ({ held: _h, heldAt: _a, ...c }) => c);
    case 'call.parked': {
      const slot = str(e['slot']);
      if (!slot) return state;
      const next = withCall(state, callId, ({ held: _h, heldAt: _a, ...c }) => ({ ...c, parkedIn: slot, parkedAt: at }));
      const parked: ParkedEntry = { slot, callId, parkedAt: at, ...(str(e['by']) && { parkedBy: str(e['by']) }), party: state.calls[callId]?.caller.uri ?? '' };
      return { ...next, parking: { ...next.parking, [slot]: parked } };
    }
    case 'call.retrieved':
    case 'call.recalled': {
      const slot = str(e['slot']);
      const next = withCall(state, callId, ({ parkedIn: _s, parkedAt: _a, ...c }) => c);
      if (!slot || next.parking[slot]?.callId !== callId) return next;
      const { [slot]: _gone, ...parking } = next.parking;
      return { ...next, parking };
    }
    case 'call.transfer.accepted': {
      const referTo = str(e['referTo']) ?? '';
      // Only call control's own consults are switchboard consults; a phone's REFER is its business.
      if (e['kind'] === 'attended' && e['by']) return withCall(state, callId, (c) => ({ ...c, consult: { referTo, since: at } }));
      if (e['kind'] === 'blind') return withCall(state, callId, (c) => ({ ...c, transferring: { referTo, since: at } }));
      return state;
    }
    case 'call.transferred':
    case 'call.transfer.failed':
      return withCall(state, callId, ({ consult: _c, transferring: _t, ...c }) => c);
    case 'call.note': {
      const note = str(e['note']) ?? '';
      return withCall(state, callId, (c) => ({ ...c, note }));
    }
    case 'call.ended': {
      if (!state.calls[callId] && !Object.values(state.parking).some((p) => p.callId === callId)) return state;
      const { [callId]: _gone, ...calls } = state.calls;
      const parking = Object.fromEntries(Object.entries(state.parking).filter(([, p]) => p.callId !== callId));
      return { ...state, calls, parking };
    }
    case 'extension.state': {
      const user = str(e['user']);
      if (!user) return state;
      const accountId = num(e['accountId']);
      // An account renamed keeps its id: its tile under the old number goes.
      const extensions = Object.fromEntries(
        Object.entries(state.extensions).filter(([u, x]) => u === user || accountId === undefined || x.accountId !== accountId),
      );
      if (e['removed'] === true) {
        delete extensions[user];
        return { ...state, extensions };
      }
      const x = extensionFrom(e, at, state.extensions[user]);
      return x ? { ...state, extensions: { ...extensions, [user]: x } } : state;
    }
    default:
      return state;
  }
}

/**
 * The switchboard contract lets `call.*` events carry the phonebook name, the note and the hold
 * start, at the top level or in a `call` object: whichever is there is taken.
 */
function withCallFields(state: BoardState, e: StreamEvent): BoardState {
  if (!e.type.startsWith('call.') || e.type === 'call.ended') return state;
  const callId = str(e['callId']);
  if (!callId || !state.calls[callId]) return state;
  const inner = obj(e['call']);
  const callerName = str(e['callerName']) ?? str(inner['callerName']);
  const note = e.type === 'call.note' ? undefined : (str(e['note']) ?? str(inner['note']));
  const heldAt = num(inner['heldAt']);
  if (callerName === undefined && note === undefined && heldAt === undefined) return state;
  return withCall(state, callId, (c) => ({
    ...c,
    ...(callerName !== undefined && { callerName }),
    ...(note !== undefined && { note }),
    ...(heldAt !== undefined && c.held && { heldAt }),
  }));
}

export function boardReducer(state: BoardState, action: BoardAction): BoardState {
  switch (action.type) {
    case 'snapshot':
      return fromSnapshot(action.snapshot);
    case 'resync':
      return { ...state, stale: true };
    case 'event': {
      const next = withCallFields(applyEvent(state, action.event), action.event);
      return { ...next, seq: action.event.seq };
    }
  }
}

// ------------------------------------------------------------------ derived views

export function phaseOf(c: BoardCall): CallPhase {
  if (c.parkedIn) return CallPhase.Parked;
  if (c.held) return CallPhase.Held;
  if (c.answeredAt !== undefined) return CallPhase.Answered;
  return c.ringingAt !== undefined ? CallPhase.Ringing : CallPhase.Dialing;
}

const PHASE_ORDER: Record<CallPhase, number> = {
  [CallPhase.Ringing]: 0, [CallPhase.Dialing]: 1, [CallPhase.Held]: 2, [CallPhase.Answered]: 3, [CallPhase.Parked]: 4,
};

/** The time a call has been in its current phase started at. */
export function phaseSince(c: BoardCall): number {
  switch (phaseOf(c)) {
    case CallPhase.Parked: return c.parkedAt ?? c.createdAt;
    case CallPhase.Held: return c.heldAt ?? c.createdAt;
    case CallPhase.Answered: return c.answeredAt ?? c.createdAt;
    default: return c.ringingAt ?? c.createdAt;
  }
}

/** Waiting calls first, the longest waiting on top; then held, answered and parked calls, oldest first. */
export function sortedCalls(state: BoardState): BoardCall[] {
  return Object.values(state.calls).sort((a, b) => PHASE_ORDER[phaseOf(a)] - PHASE_ORDER[phaseOf(b)] || phaseSince(a) - phaseSince(b) || (a.id < b.id ? -1 : 1));
}

/** Extensions of the tenant taking part in a call right now (from their lamps' call lists). */
export function extensionsInCall(state: BoardState, callId: string): BoardExtension[] {
  return Object.values(state.extensions).filter((x) => x.callIds.includes(callId)).sort((a, b) => (a.user < b.user ? -1 : 1));
}

/** `sip:1001@acme.test` → `1001`, `sip:+4420…@carrier` → `+4420…`. */
export function userOf(uri: string): string {
  const text = uri.replace(/^<|>$/g, '').replace(/^sips?:/i, '');
  const at = text.indexOf('@');
  return (at < 0 ? text : text.slice(0, at)).split(';')[0] ?? text;
}

export function partyLabel(p: BoardParty): string {
  return p.account ?? userOf(p.uri);
}

/**
 * Which party call control acts on for "the customer" of a call (held, parked, transferred):
 * the side that is not my extension; when neither side is mine, the caller.
 */
export function customerParty(c: BoardCall, mine: string | null): ControlParty {
  if (mine && c.caller.account === mine) return 'callee';
  return 'caller';
}

export function otherParty(p: ControlParty): ControlParty {
  return p === 'caller' ? 'callee' : 'caller';
}

/** What an extension's lamp means in words: "talking to 1001", "ringing from +44…", "holding 1001". */
export function activityOf(state: BoardState, x: BoardExtension): { text: string; since: number | null } | null {
  const call = x.callIds.map((id) => state.calls[id]).find((c): c is BoardCall => c !== undefined);
  if (!call) return null;
  const isCaller = call.caller.account === x.user;
  const others = extensionsInCall(state, call.id).filter((o) => o.user !== x.user).map((o) => o.user);
  const peer = isCaller ? (others[0] ?? partyLabel(call.callee)) : (call.callerName ?? partyLabel(call.caller));
  // A consult target talks to the consultant, not to the caller (who waits on hold).
  if (call.consult && userOf(call.consult.referTo) === x.user && phaseOf(call) === CallPhase.Answered) {
    const consultant = others.find((u) => u !== call.caller.account);
    return { text: consultant ? `consulted by ${consultant}` : 'consulted', since: call.consult.since };
  }
  switch (phaseOf(call)) {
    case CallPhase.Ringing:
    case CallPhase.Dialing:
      return isCaller ? { text: `calling ${peer}`, since: call.createdAt } : { text: `ringing from ${peer}`, since: call.ringingAt ?? call.createdAt };
    case CallPhase.Held:
      return { text: `on hold with ${peer}`, since: call.heldAt ?? null };
    case CallPhase.Parked:
      return { text: `parked in ${call.parkedIn}`, since: call.parkedAt ?? null };
    default:
      return { text: `talking to ${peer}`, since: call.answeredAt ?? null };
  }
}

/** `m:ss` or `h:mm:ss`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
