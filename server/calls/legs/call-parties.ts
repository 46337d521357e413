import type { BridgeSide } from '../bridge/index.ts';

export type PartyRole = 'caller' | 'callee';

/** The tenant account a party of a call is (a CallAccount satisfies this). */
export interface PartyAccount {
  id: number;
  username: string;
  maxCalls?: number | null;
}

/** One hold of a call on an account: one maxCalls slot use and one `call.party.joined`, undone exactly once. */
export interface PartyHold {
  readonly account: PartyAccount;
  readonly role: PartyRole;
}

/** The slot counter (AccountCallCounter satisfies this). */
export interface PartySlots {
  tryTake(accountId: number, callId: string, limit: number | null | undefined): boolean;
  release(accountId: number, callId: string): void;
}

export interface PartyEvent {
  type: 'call.party.joined' | 'call.party.left';
  tenantId: number;
  callId: string;
  at: number;
  accountId: number;
  account: string;
  role: PartyRole;
}

export interface CallPartiesDeps {
  callId: string;
  tenantId: number;
  slots: PartySlots;
  emit(e: PartyEvent): void;
  /** Someone else is on `side` now, or nobody (a transfer, pickup, takeover, park): what was said of that party's session is stale. */
  sideReplaced?(side: BridgeSide): void;
}

/** What a new party does to the accounts already on the side it takes. */
export type SeatMode = 'join' | 'replace';

interface Hold extends PartyHold {
  dropped: boolean;
}

/**
 * Which tenant accounts are parties of one call, and on which side of its bridge: the one owner
 * of an account's maxCalls slot for the call and of its `call.party.joined/left` events, so that
 * every path that moves a side (transfer, park, pickup, retrieve, takeover, consult) keeps the
 * extension lamps and the slots true while the call goes on.
 *
 * A hold is ringing (a dialled leg to the account), answered (its leg answered, waiting for the
 * call to put it on a side), or seated on side a or b. Dropping a hold releases the slot and
 * emits `call.party.left` once. After `end()` nothing is emitted any more: `call.ended` clears
 * the lamps and the CallService releases every slot of the call.
 */
export class CallParties {
  private readonly holds = new Set<Hold>();
  private readonly answeredHolds = new Set<Hold>();
  /** Answered holds kept apart for a later seat (a consult target while the consult lasts). */
  private readonly aside = new Set<Hold>();
  private readonly seats: Record<BridgeSide, Set<Hold>> = { a: new Set(), b: new Set() };
  private ended = false;

  constructor(private readonly deps: CallPartiesDeps) {}

  /** Takes a slot of the account (unless over `limit`) and announces it: a dialled leg, a party moved in from another call. */
  take(account: PartyAccount, role: PartyRole, limit: number | null | undefined): PartyHold | undefined {
    if (this.ended || !this.deps.slots.tryTake(account.id, this.deps.callId, limit)) return undefined;
    return this.admit(account, role);
  }

  /** An account whose slot the CallService already took for this call (the call's own account, a picking phone). */
  admit(account: PartyAccount, role: PartyRole, side?: BridgeSide): PartyHold {
    const hold: Hold = { account, role, dropped: false };
    this.holds.add(hold);
    if (side) this.seats[side].add(hold);
    this.emit('call.party.joined', hold);
    return hold;
  }

  /** The hold's leg answered: it waits for `seat` (or `dropUnseated` when the call does not take it). */
  answered(hold: PartyHold): void {
    const h = hold as Hold;
    if (!h.dropped) this.answeredHolds.add(h);
  }

  /** The hold ends (its leg failed or was cancelled, its party left). Idempotent. */
  drop(hold: PartyHold): void {
    const h = hold as Hold;
    if (h.dropped || !this.holds.has(h)) return;
    h.dropped = true;
    this.holds.delete(h);
    this.answeredHolds.delete(h);
    this.aside.delete(h);
    this.seats.a.delete(h);
    this.seats.b.delete(h);
    if (this.ended) return;
    this.deps.slots.release(h.account.id, this.deps.callId);
    this.emit('call.party.left', h);
  }

  /**
   * The answered holds (and `extra`) take `side`. `replace`: whoever was on that side left the
   * call (a transfer, a pickup, a takeover); `join`: they stay (the first answer of the call,
   * where an incoming call's own account keeps its side).
   */
  seat(side: BridgeSide, mode: SeatMode, extra: PartyHold[] = []): void {
    const incoming = new Set<Hold>([...this.answeredHolds, ...(extra as Hold[])].filter((h) => !h.dropped));
    this.answeredHolds.clear();
    if (mode === 'replace') {
      for (const h of [...this.seats[side]]) if (!incoming.has(h)) this.drop(h);
      this.deps.sideReplaced?.(side);
    }
    for (const h of incoming) {
      this.aside.delete(h);
      this.seats[otherSide(side)].delete(h);
      this.seats[side].add(h);
    }
  }

  /**
   * Takes the answered holds out of the waiting set, for a seat that comes later (a consult
   * target joins at completion): another placement meanwhile neither seats nor drops them.
   */
  setAside(): PartyHold[] {
    const holds = [...this.answeredHolds];
    this.answeredHolds.clear();
    for (const h of holds) this.aside.add(h);
    return holds;
  }

  /** Answered holds no side took (a transfer target the staying party refused, a cancelled consult) leave. */
  dropUnseated(): void {
    for (const h of [...this.answeredHolds]) this.drop(h);
  }

  /**
   * The call stopped ringing its legs on purpose (a pickup, a deflect): the rung accounts are out
   * at once, not when each cancelled branch finally ends (a phone that never answered the INVITE
   * holds its branch until the transaction times out).
   */
  dropRinging(): void {
    for (const h of [...this.holds]) if (!this.answeredHolds.has(h) && !this.aside.has(h) && !this.seats.a.has(h) && !this.seats.b.has(h)) this.drop(h);
  }

  /** `side`'s party left and nobody took its place yet (park). */
  vacate(side: BridgeSide): void {
    for (const h of [...this.seats[side]]) this.drop(h);
    this.deps.sideReplaced?.(side);
  }

  /** The accounts on `side`, each once (what moves with that party into another call). */
  accountsOn(side: BridgeSide): PartyAccount[] {
    const byId = new Map<number, PartyAccount>();
    for (const h of this.seats[side]) byId.set(h.account.id, h.account);
    return [...byId.values()];
  }

  /** Accounts with a live hold, each once. */
  accounts(): PartyAccount[] {
    const byId = new Map<number, PartyAccount>();
    for (const h of this.holds) byId.set(h.account.id, h.account);
    return [...byId.values()];
  }

  /** The call ended: its slots go with it (CallService), `call.ended` tells the lamps. */
  end(): void {
    this.ended = true;
  }

  private emit(type: PartyEvent['type'], h: Hold): void {
    this.deps.emit({ type, tenantId: this.deps.tenantId, callId: this.deps.callId, at: Date.now(), accountId: h.account.id, account: h.account.username, role: h.role });
  }
}

function otherSide(side: BridgeSide): BridgeSide {
  return side === 'a' ? 'b' : 'a';
}
