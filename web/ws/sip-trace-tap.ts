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

/**
 * Turns the SIP stack's traffic into `sip.trace` events for the tenants someone watches, and
 * leaves the stack untouched (observer unset) while nobody does. A message is attributed to a
 * tenant only by its Call-ID naming one of that tenant's calls (CallService knows the caller's
 * and every placed branch's). The first messages of a call (the INVITE, a digest challenge)
 * pass before the call exists: they wait a few seconds in a small ring and go out, in order,
 * once their Call-ID is claimed; unclaimed ones are dropped, never guessed.
 */
export class SipTraceTap implements TraceSwitch {
  private watched: ReadonlySet<number> = new Set();
  private readonly pending: RingBuffer<PendingTrace>;
  private pendingCount = 0;
  private readonly observer: Observer = (direction, data, remote, local) => this.observe(direction, data, remote, local);

  constructor(private readonly opts: { stack: TrafficSource; owners: SipCallOwners; bus: EventBus; pendingLimit?: number; pendingTtlMs?: number }) {
    this.pending = new RingBuffer(opts.pendingLimit ?? 256);
  }

  setWatched(tenants: ReadonlySet<number>): void {
    this.watched = tenants;
    this.opts.stack.trafficObserver = tenants.size > 0 ? this.observer : undefined;
    if (tenants.size === 0) {
      this.pending.clear();
      this.pendingCount = 0;
    }
  }

  private observe(direction: 'in' | 'out', data: Buffer, remote: EventEndpoint, local: EventEndpoint): void {
    if (data.length < 16) return; // CRLF keep-alives
    const text = data.toString('utf8');
    const sipCallId = CALL_ID.exec(text)?.[1];
    if (!sipCallId) return;
    const at = Date.now();
    const owner = this.opts.owners.sipCallOwner(sipCallId);
    if (!owner) {
      const evicted = this.pending.push({ at, direction, remote, local, text, sipCallId, done: false });
      if (!evicted || evicted.done) this.pendingCount++;
      return;
    }
    if (!this.watched.has(owner.tenantId)) return;
    if (this.pendingCount > 0) this.flushPending(sipCallId, owner, at);
    this.emit(owner, { at, direction, remote, local, text, sipCallId, done: true });
  }

  private flushPending(sipCallId: string, owner: SipCallOwner, now: number): void {
    const ttl = this.opts.pendingTtlMs ?? 10_000;
    for (const p of this.pending) {
      if (p.done) continue;
      if (now - p.at > ttl) {
        p.done = true;
        this.pendingCount--;
        continue;
      }
      if (p.sipCallId !== sipCallId) continue;
      p.done = true;
      this.pendingCount--;
      this.emit(owner, p);
    }
  }

  private emit(owner: SipCallOwner, t: PendingTrace): void {
    const [src, dst] = t.direction === 'in' ? [t.remote, t.local] : [t.local, t.remote];
    this.opts.bus.emit({
      type: 'sip.trace', tenantId: owner.tenantId, at: t.at, direction: t.direction, transport: t.remote.transport,
      src: { address: src.address, port: src.port }, dst: { address: dst.address, port: dst.port },
      text: t.text, sipCallId: t.sipCallId, callId: owner.callId, leg: owner.leg, ...(owner.legTarget !== undefined && { legTarget: owner.legTarget }),
    });
  }
}
