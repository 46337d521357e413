import { RingBuffer, type EventBus, type EventEndpoint } from '../../server/events/index.ts';
import type { SipCallOwner } from '../../server/calls/index.ts';
import type { TraceSwitch } from './event-hub.ts';

type Observer = (direction: 'in' | 'out', data: Buffer, remote: EventEndpoint, local: EventEndpoint) => void;

/** SipStack satisfies this: its observer is unset (no cost) unless the tap is on. */
export interface TrafficSource {
  trafficObserver: Observer | undefined;
}

/** CallService satisfies this. */
export interface SipCallOwners {
  sipCallOwner(sipCallId: string): SipCallOwner | undefined;
}

/** LocationService satisfies this: live bindings with the Call-ID of their REGISTERs. */
export interface RegistrationCallIds {
  all(): Iterable<{ callId: string; tenantId: number }>;
}

/** Whom a traced message belongs to: a call's leg, or a tenant's registration (no call). */
type TraceOwner = { tenantId: number; callId?: string; leg?: 'a' | 'b'; legTarget?: string; tag?: string };

/** How long a removed binding's Call-ID still names its tenant (the 200 to the un-REGISTER comes after the removal). */
const REGISTRATION_LINGER_MS = 32_000;

interface PendingTrace {
  at: number;
  direction: 'in' | 'out';
  remote: EventEndpoint;
  local: EventEndpoint;
  text: string;
  sipCallId: string;
  done: boolean;
}

const CALL_ID = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im;
const FROM = /^(?:from|f)[ \t]*:(.*)$/im;
const TO = /^(?:to|t)[ \t]*:(.*)$/im;

/** The `tag` parameter of a From/To value (after the URI's `>`, where header parameters live). */
function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const params = value.slice(value.lastIndexOf('>') + 1);
  return /;[ \t]*tag[ \t]*=[ \t]*([^;\s]+)/i.exec(params)?.[1];
}

/** Whether a message of the caller's dialog: the caller's tag in From (its requests, our answers) or To (our requests). */
function carriesTag(text: string, tag: string): boolean {
  return tagOf(FROM.exec(text)?.[1]) === tag || tagOf(TO.exec(text)?.[1]) === tag;
}

/**
 * Turns the SIP stack's traffic into `sip.trace` events for the tenants someone watches, and
 * leaves the stack untouched (observer unset) while nobody does. A message is attributed to a
 * tenant only by its Call-ID naming one of that tenant's calls (CallService knows the caller's
 * and every placed branch's) or one of its live registrations. The first messages of a call (the INVITE, a digest challenge)
 * pass before the call exists: they wait a few seconds in a small ring and go out, in order,
 * once their Call-ID is claimed; unclaimed ones are dropped, never guessed.
 */
export class SipTraceTap implements TraceSwitch {
  private watched: ReadonlySet<number> = new Set();
  private readonly pending: RingBuffer<PendingTrace>;
  private pendingCount = 0;
  private readonly observer: Observer = (direction, data, remote, local) => this.observe(direction, data, remote, local);

  /** REGISTER Call-ID → tenant, kept only while tracing (built from the location service when tracing starts). */
  private registrations: Map<string, number> | undefined;
  private stopFollowingRegistrations: (() => void) | undefined;

  constructor(private readonly opts: {
    stack: TrafficSource; owners: SipCallOwners; bus: EventBus; registrations?: RegistrationCallIds; pendingLimit?: number; pendingTtlMs?: number;
  }) {
    this.pending = new RingBuffer(opts.pendingLimit ?? 256);
  }

  setWatched(tenants: ReadonlySet<number>): void {
    this.watched = tenants;
    this.opts.stack.trafficObserver = tenants.size > 0 ? this.observer : undefined;
    if (tenants.size > 0 && !this.registrations) this.followRegistrations();
    if (tenants.size === 0) {
      this.pending.clear();
      this.pendingCount = 0;
      this.stopFollowingRegistrations?.();
      this.stopFollowingRegistrations = this.registrations = undefined;
    }
  }

  private followRegistrations(): void {
    const source = this.opts.registrations;
    if (!source) return;
    const index = new Map<string, number>();
    for (const b of source.all()) index.set(b.callId, b.tenantId);
    this.registrations = index;
    const timers = new Set<NodeJS.Timeout>();
    const unsubscribe = this.opts.bus.subscribe({ types: ['registration.*'] }, (e) => {
      if (e.type === 'registration.added' || e.type === 'registration.refreshed') index.set(e.sipCallId, e.tenantId);
      else if (e.type === 'registration.removed' || e.type === 'registration.expired') {
        const id = e.sipCallId;
        const timer = setTimeout(() => {
          timers.delete(timer);
          index.delete(id);
        }, REGISTRATION_LINGER_MS);
        timer.unref();
        timers.add(timer);
      }
    });
    this.stopFollowingRegistrations = () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
    };
  }

  private ownerOf(sipCallId: string): TraceOwner | undefined {
    const call = this.opts.owners.sipCallOwner(sipCallId);
    if (call) return call;
    const tenantId = this.registrations?.get(sipCallId);
    return tenantId === undefined ? undefined : { tenantId };
  }

  private observe(direction: 'in' | 'out', data: Buffer, remote: EventEndpoint, local: EventEndpoint): void {
    if (data.length < 16) return; // CRLF keep-alives
    const text = data.toString('utf8');
    const sipCallId = CALL_ID.exec(text)?.[1];
    if (!sipCallId) return;
    const at = Date.now();
    const found = this.ownerOf(sipCallId);
    const owner = found?.tag !== undefined && !carriesTag(text, found.tag) ? undefined : found;
    if (!owner) {
      const evicted = this.pending.push({ at, direction, remote, local, text, sipCallId, done: false });
      if (!evicted || evicted.done) this.pendingCount++;
      return;
    }
    if (!this.watched.has(owner.tenantId)) return;
    if (this.pendingCount > 0) this.flushPending(sipCallId, owner, at);
    this.emit(owner, { at, direction, remote, local, text, sipCallId, done: true });
  }

  private flushPending(sipCallId: string, owner: TraceOwner, now: number): void {
    const ttl = this.opts.pendingTtlMs ?? 10_000;
    for (const p of this.pending) {
      if (p.done) continue;
      if (now - p.at > ttl) {
        p.done = true;
        this.pendingCount--;
        continue;
      }
      if (p.sipCallId !== sipCallId || (owner.tag !== undefined && !carriesTag(p.text, owner.tag))) continue;
      p.done = true;
      this.pendingCount--;
      this.emit(owner, p);
    }
  }

  private emit(owner: TraceOwner, t: PendingTrace): void {
    const [src, dst] = t.direction === 'in' ? [t.remote, t.local] : [t.local, t.remote];
    this.opts.bus.emit({
      type: 'sip.trace', tenantId: owner.tenantId, at: t.at, direction: t.direction, transport: t.remote.transport,
      src: { address: src.address, port: src.port }, dst: { address: dst.address, port: dst.port },
      text: t.text, sipCallId: t.sipCallId,
      ...(owner.callId !== undefined && { callId: owner.callId }),
      ...(owner.leg !== undefined && { leg: owner.leg }),
      ...(owner.legTarget !== undefined && { legTarget: owner.legTarget }),
    });
  }
}
