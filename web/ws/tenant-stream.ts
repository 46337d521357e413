import { RingBuffer, type SequencedEvent } from '../../server/events/index.ts';

/**
 * One event of a tenant's stream. Its frame (`{seq, time, type, tenant, ...fields}`) is
 * serialized on first use and then shared by every client that gets it, so a switch nobody
 * watches does not pay for JSON.
 */
export class StreamEntry {
  private json: string | undefined;

  constructor(
    readonly seq: number,
    /** Accounts (usernames) the event concerns; empty when it concerns none (a provider-only call). */
    readonly accounts: readonly string[],
    private readonly event: SequencedEvent,
  ) {}

  get type(): SequencedEvent['type'] {
    return this.event.type;
  }

  get frame(): string {
    if (this.json === undefined) {
      const { seq: _busSeq, at, tenantId, type, ...fields } = this.event;
      this.json = JSON.stringify({ seq: this.seq, time: at, type, tenant: tenantId, ...fields });
    }
    return this.json;
  }
}

export type ReplayResult = { ok: true; entries: StreamEntry[] } | { ok: false };

/**
 * A tenant's ordered event stream: its own sequence numbers (so one tenant cannot count
 * another's activity), a bounded ring of recent entries for `since` resumes, and which accounts
 * each live call involves (so member and account filters apply to every event of a call).
 */
export class TenantStream {
  private lastSeq: number;
  /** Highest seq no longer in the ring; a resume from below it would have a gap. */
  private evictedThrough: number;
  private readonly ring: RingBuffer<StreamEntry>;
  private readonly callAccounts = new Map<string, Set<string>>();
  /**
   * How many times each account is a party of each live call (`call.party.joined` minus `left`;
   * one account can hold both sides, or a side and a ringing leg). At 0 after a `left` the account
   * is out of the call's set: a member who transferred the call away sees none of its later events.
   */
  private readonly partyCounts = new Map<string, Map<string, number>>();

  /** `firstSeq - 1` is the seq of "nothing yet" (see EventHub: seqs start above any earlier process's). */
  constructor(readonly tenantId: number, capacity: number, firstSeq: number) {
    this.ring = new RingBuffer(capacity);
    this.lastSeq = firstSeq - 1;
    this.evictedThrough = firstSeq - 1;
  }

  get seq(): number {
    return this.lastSeq;
  }

  append(event: SequencedEvent): StreamEntry {
    const seq = ++this.lastSeq;
    const entry = new StreamEntry(seq, this.accountsOf(event), event);
    const evicted = this.ring.push(entry);
    if (evicted) this.evictedThrough = evicted.seq;
    return entry;
  }

  /** Entries after `since`, or not ok when some of them are gone (or `since` is not of this stream). */
  replay(since: number): ReplayResult {
    if (since < this.evictedThrough || since > this.lastSeq) return { ok: false };
    return { ok: true, entries: this.ring.tailFrom((e) => e.seq > since) };
  }

  /** Accounts a live call involves (for a member's snapshot). */
  accountsOfCall(callId: string): ReadonlySet<string> | undefined {
    return this.callAccounts.get(callId);
  }

  private accountsOf(e: SequencedEvent): string[] {
    switch (e.type) {
      case 'registration.added':
      case 'registration.refreshed':
      case 'registration.removed':
      case 'registration.expired':
      case 'extension.state':
      case 'account.dnd':
        return [e.user];
      case 'registration.failed':
        return e.user ? [e.user] : [];
      case 'config.changed':
      case 'provider.registration.registered':
      case 'provider.registration.failed':
      case 'provider.registration.unregistered':
      case 'provider.down':
      case 'provider.up':
      case 'provider.target.down':
      case 'provider.target.up':
        return [];
      case 'call.created': {
        const set = new Set<string>();
        if (e.caller.account) set.add(e.caller.account);
        if (e.callee.account) set.add(e.callee.account);
        this.callAccounts.set(e.callId, set);
        return [...set];
      }
      case 'call.party.joined': {
        let set = this.callAccounts.get(e.callId);
        if (!set) this.callAccounts.set(e.callId, (set = new Set()));
        set.add(e.account);
        let counts = this.partyCounts.get(e.callId);
        if (!counts) this.partyCounts.set(e.callId, (counts = new Map()));
        counts.set(e.account, (counts.get(e.account) ?? 0) + 1);
        return [...set];
      }
      case 'call.party.left': {
        // The leaving account still gets this event (its lamp, its list), then no more of the call's.
        const set = this.callAccounts.get(e.callId);
        const to = set ? [...set] : [e.account];
        const counts = this.partyCounts.get(e.callId);
        const n = (counts?.get(e.account) ?? 1) - 1;
        if (n > 0) counts!.set(e.account, n);
        else {
          counts?.delete(e.account);
          set?.delete(e.account);
        }
        return to;
      }
      case 'call.ended': {
        const set = this.callAccounts.get(e.callId);
        this.callAccounts.delete(e.callId);
        this.partyCounts.delete(e.callId);
        return set ? [...set] : [];
      }
      default: {
        // Every other event is about one call (a REGISTER's trace: none): it concerns the accounts that call involves.
        const set = e.callId === undefined ? undefined : this.callAccounts.get(e.callId);
        return set ? [...set] : [];
      }
    }
  }
}
