import type { EventBus, ExtensionState, SequencedEvent } from '../events/index.ts';

/** One account's lamp as the snapshot lists it. */
export interface ExtensionView {
  accountId: number;
  user: string;
  state: ExtensionState;
  /** Patchbay call ids the account is a party of. */
  callIds: string[];
  /** Do-not-disturb is on. */
  dnd: boolean;
  /** The account's display name (its label on a switchboard tile), when it has one. */
  label?: string;
}

/** An account as the presence knows it from the database. */
export interface PresenceAccount {
  tenantId: number;
  id: number;
  username: string;
  dnd?: boolean;
  displayName?: string | null;
}

/** Where a registration is known from at start (LocationService.all() satisfies this). */
export interface BindingSeed {
  id: string;
  tenantId: number;
  accountId: number;
  user: string;
  expiresAt: number;
}

interface AccountPresence {
  tenantId: number;
  accountId: number;
  user: string;
  bindings: Set<string>;
  /**
   * call id → holds (a call can ring one account on several legs) and the account's role in it;
   * absent while the account is in no call (most of them, most of the time: an empty Map per
   * account was ~270 bytes, 2.7 MiB for 10,000 accounts).
   */
  calls?: Map<string, { holds: number; role: 'caller' | 'callee' }>;
  state: ExtensionState;
  dnd: boolean;
  label?: string;
}

interface CallPhase {
  answered: boolean;
  held: boolean;
  accounts: Set<AccountPresence>;
}

const WATCHED = ['registration.*', 'call.*', 'account.dnd', 'config.changed'];

/**
 * Extension state per account (idle, ringing, busy, held, dnd, offline), derived from the event
 * stream: registrations say whether a phone is there, `call.party.*` which calls the account is
 * a party of, and `call.answered/held/unheld/ended` what those calls are doing. Every change is
 * put back on the bus as `extension.state`.
 *
 * Rules: in an answered call on hold → held; in an answered call → busy; the caller of an
 * unanswered call → busy (it is dialling); rung by an unanswered call → ringing; no call and a
 * live binding → dnd when do-not-disturb is on, else idle; otherwise offline. DND comes from
 * `account.dnd` events (and addAccounts at start).
 */
export class ExtensionPresence {
  /** tenant id → account id → presence (a snapshot reads one tenant without scanning the others). */
  private readonly accounts = new Map<number, Map<number, AccountPresence>>();
  private readonly calls = new Map<string, CallPhase>();
  private readonly unsubscribe: () => void;
  /** Tenants being re-read after an account change → whether another change came meanwhile. */
  private readonly syncing = new Map<number, boolean>();
  private closed = false;

  constructor(private readonly opts: {
    bus: EventBus;
    bindings?: Iterable<BindingSeed>;
    now?: () => number;
    /** One tenant's accounts from the database, re-read when `config.changed` says an account changed. */
    loadTenant?: (tenantId: number) => Promise<PresenceAccount[]>;
    /** A re-read that failed (the lamps keep what they had until the next change). */
    onSyncError?: (tenantId: number, error: unknown) => void;
  }) {
    const now = (opts.now ?? Date.now)();
    for (const b of opts.bindings ?? []) {
      if (b.expiresAt > now) this.account(b.tenantId, b.accountId, b.user).bindings.add(b.id);
    }
    for (const tenant of this.accounts.values()) for (const a of tenant.values()) a.state = derive(a, this.calls);
    this.unsubscribe = opts.bus.subscribe({ types: WATCHED }, (e) => this.apply(e));
  }

  /** Makes accounts known before they register (they show as offline). */
  addAccounts(accounts: Iterable<PresenceAccount>): void {
    for (const a of accounts) {
      const acc = this.account(a.tenantId, a.id, a.username);
      acc.dnd = a.dnd === true;
      setLabel(acc, a.displayName);
      acc.state = derive(acc, this.calls);
    }
  }

  /**
   * Brings one tenant's accounts in line with the database after an account was added, renamed
   * or removed: a new account appears (offline until it registers), a changed label is told, and
   * a removed account goes — each as an `extension.state` event (`removed: true` for the last), so
   * a switchboard never shows an extension that is gone or misses one that was just made.
   */
  syncTenant(tenantId: number, accounts: Iterable<PresenceAccount>): void {
    const known = this.accounts.get(tenantId);
    const seen = new Set<number>();
    for (const a of accounts) {
      if (a.tenantId !== tenantId) continue;
      seen.add(a.id);
      const existing = known?.get(a.id);
      if (existing && existing.user === a.username && existing.label === labelOf(a.displayName)) continue;
      const acc = this.account(tenantId, a.id, a.username);
      if (!existing) acc.dnd = a.dnd === true;
      setLabel(acc, a.displayName);
      acc.state = derive(acc, this.calls);
      this.announce(acc, existing ? existing.state : acc.state);
    }
    for (const acc of [...(known?.values() ?? [])]) {
      if (seen.has(acc.accountId)) continue;
      known?.delete(acc.accountId);
      this.announce(acc, acc.state, true);
    }
  }

  /** One account's lamp, if the account is known. */
  get(tenantId: number, accountId: number): ExtensionView | undefined {
    const a = this.accounts.get(tenantId)?.get(accountId);
    return a && view(a);
  }

  /** Forgets a removed account (no event: the account is gone). */
  removeAccount(tenantId: number, accountId: number): void {
    this.accounts.get(tenantId)?.delete(accountId);
  }

  /** The tenant's known accounts, by username. */
  list(tenantId: number): ExtensionView[] {
    const out: ExtensionView[] = [];
    for (const a of this.accounts.get(tenantId)?.values() ?? []) {
      out.push(view(a));
    }
    return out.sort((x, y) => (x.user < y.user ? -1 : x.user > y.user ? 1 : 0));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
  }

  /** Re-reads a tenant's accounts; changes that come while one read runs share one more read. */
  private resync(tenantId: number): void {
    const load = this.opts.loadTenant;
    if (!load || this.closed) return;
    if (this.syncing.has(tenantId)) {
      this.syncing.set(tenantId, true);
      return;
    }
    this.syncing.set(tenantId, false);
    void (async () => {
      try {
        do {
          this.syncing.set(tenantId, false);
          const accounts = await load(tenantId);
          if (this.closed) return;
          this.syncTenant(tenantId, accounts);
        } while (this.syncing.get(tenantId) === true);
      } catch (error) {
        this.opts.onSyncError?.(tenantId, error);
      } finally {
        this.syncing.delete(tenantId);
      }
    })();
  }

  private apply(e: SequencedEvent): void {
    switch (e.type) {
      case 'registration.added':
      case 'registration.refreshed':
        this.change(this.account(e.tenantId, e.accountId, e.user), (a) => a.bindings.add(e.bindingId));
        return;
      case 'registration.removed':
      case 'registration.expired':
        this.change(this.account(e.tenantId, e.accountId, e.user), (a) => a.bindings.delete(e.bindingId));
        return;
      case 'account.dnd':
        this.change(this.account(e.tenantId, e.accountId, e.user), (a) => (a.dnd = e.dnd));
        return;
      case 'config.changed':
        if (e.kind === 'account') this.resync(e.tenantId);
        return;
      case 'call.created':
        this.calls.set(e.callId, { answered: false, held: false, accounts: new Set() });
        return;
      case 'call.party.joined': {
        const call = this.calls.get(e.callId);
        if (!call) return;
        const a = this.account(e.tenantId, e.accountId, e.account);
        call.accounts.add(a);
        this.change(a, (acc) => {
          const entry = acc.calls?.get(e.callId);
          if (entry) entry.holds++;
          else (acc.calls ??= new Map()).set(e.callId, { holds: 1, role: e.role });
        });
        return;
      }
      case 'call.party.left': {
        const a = this.accounts.get(e.tenantId)?.get(e.accountId);
        const entry = a?.calls?.get(e.callId);
        if (!a || !entry) return;
        this.change(a, (acc) => {
          if (--entry.holds > 0) return;
          forgetCall(acc, e.callId);
          this.calls.get(e.callId)?.accounts.delete(acc);
        });
        return;
      }
      case 'call.answered':
      case 'call.held':
      case 'call.unheld': {
        const call = this.calls.get(e.callId);
        if (!call) return;
        if (e.type === 'call.answered') call.answered = true;
        else call.held = e.type === 'call.held';
        for (const a of call.accounts) this.change(a, () => {});
        return;
      }
      case 'call.ended': {
        const call = this.calls.get(e.callId);
        if (!call) return;
        this.calls.delete(e.callId);
        for (const a of call.accounts) this.change(a, (acc) => forgetCall(acc, e.callId));
        return;
      }
      default:
        return;
    }
  }

  private account(tenantId: number, accountId: number, user: string): AccountPresence {
    let tenant = this.accounts.get(tenantId);
    if (!tenant) this.accounts.set(tenantId, (tenant = new Map()));
    let a = tenant.get(accountId);
    if (!a) {
      // `calls` is in the literal so that every account has one shape (it is set and cleared, never added or deleted).
      a = { tenantId, accountId, user, bindings: new Set(), state: 'offline', dnd: false, calls: undefined };
      tenant.set(accountId, a);
    }
    a.user = user;
    return a;
  }

  private change(a: AccountPresence, mutate: (a: AccountPresence) => void): void {
    const dndBefore = a.dnd;
    mutate(a);
    const next = derive(a, this.calls);
    // DND switched during a call leaves the lamp busy, but the flag still changed: say so.
    if (next === a.state && a.dnd === dndBefore) return;
    const previous = a.state;
    a.state = next;
    this.announce(a, previous);
  }

  private announce(a: AccountPresence, previous: ExtensionState, removed = false): void {
    this.opts.bus.emit({
      type: 'extension.state', tenantId: a.tenantId, accountId: a.accountId, user: a.user, state: a.state, previous,
      callIds: callIdsOf(a), dnd: a.dnd, at: Date.now(),
      ...(a.label !== undefined && { label: a.label }),
      ...(removed && { removed: true as const }),
    });
  }
}

// A phone talking in one call while another rings or waits on hold is busy: the live call wins.
const RANK: Record<ExtensionState, number> = { offline: 0, idle: 1, dnd: 1, ringing: 2, held: 3, busy: 4 };

function view(a: AccountPresence): ExtensionView {
  return { accountId: a.accountId, user: a.user, state: a.state, callIds: callIdsOf(a), dnd: a.dnd, ...(a.label !== undefined && { label: a.label }) };
}

function callIdsOf(a: AccountPresence): string[] {
  return a.calls ? [...a.calls.keys()] : [];
}

/** Its last call gone, the account drops the map too (a peak of calls leaves nothing behind). */
function forgetCall(a: AccountPresence, callId: string): void {
  if (!a.calls?.delete(callId) || a.calls.size > 0) return;
  a.calls = undefined;
}

function labelOf(displayName: string | null | undefined): string | undefined {
  const label = displayName?.trim();
  return label ? label : undefined;
}

function setLabel(a: AccountPresence, displayName: string | null | undefined): void {
  const label = labelOf(displayName);
  if (label === undefined) delete a.label;
  else a.label = label;
}

function derive(a: AccountPresence, calls: Map<string, CallPhase>): ExtensionState {
  let best: ExtensionState | undefined;
  for (const [callId, { role }] of a.calls ?? []) {
    const call = calls.get(callId);
    if (!call) continue;
    const s: ExtensionState = call.answered ? (call.held ? 'held' : 'busy') : role === 'caller' ? 'busy' : 'ringing';
    if (!best || RANK[s] > RANK[best]) best = s;
  }
  if (best) return best;
  if (a.bindings.size === 0) return 'offline';
  return a.dnd ? 'dnd' : 'idle';
}
