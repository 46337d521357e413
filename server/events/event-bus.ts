import { RingBuffer } from './ring-buffer.ts';
import type { BusEvent, EventFilter, EventListener, SequencedEvent } from './event-types.ts';

interface Subscription {
  filter: EventFilter;
  listener: EventListener;
}

/**
 * In-process event bus. Events are numbered so a reconnecting client can resume from the last
 * sequence it saw; a bounded backlog (a ring) is kept for that. A throwing subscriber is isolated
 * so one bad consumer cannot stop the SIP path that emitted the event.
 *
 * An event emitted from inside a listener (presence reacting to a call event) is queued and
 * delivered after the current one has reached every subscriber, so all subscribers see the same
 * order, which is the order of `seq`.
 */
export class EventBus {
  private seq = 0;
  private readonly subscriptions = new Set<Subscription>();
  private readonly backlog: RingBuffer<SequencedEvent>;
  private readonly pending: SequencedEvent[] = [];
  private delivering = false;

  constructor(private readonly options: { backlogSize?: number; onListenerError?: (err: unknown) => void } = {}) {
    this.backlog = new RingBuffer(options.backlogSize ?? 10_000);
  }

  emit(event: BusEvent): SequencedEvent {
    const sequenced = { ...event, at: event.at ?? Date.now(), seq: ++this.seq } as SequencedEvent;
    this.backlog.push(sequenced);
    if (this.delivering) {
      this.pending.push(sequenced);
      return sequenced;
    }
    this.delivering = true;
    try {
      this.deliver(sequenced);
      // Index loop: listeners may queue more while we drain.
      for (let i = 0; i < this.pending.length; i++) this.deliver(this.pending[i]!);
    } finally {
      this.pending.length = 0;
      this.delivering = false;
    }
    return sequenced;
  }

  subscribe(filter: EventFilter, listener: EventListener): () => void {
    const sub = { filter, listener };
    this.subscriptions.add(sub);
    return () => this.subscriptions.delete(sub);
  }

  /** Events after `afterSeq` that match, oldest first; `undefined` if the backlog no longer reaches back that far. */
  since(afterSeq: number, filter: EventFilter = {}): SequencedEvent[] | undefined {
    const oldest = this.backlog.first();
    if (oldest && afterSeq < oldest.seq - 1) return undefined;
    return this.backlog.tailFrom((e) => e.seq > afterSeq).filter((e) => matches(filter, e));
  }

  get lastSeq(): number {
    return this.seq;
  }

  private deliver(event: SequencedEvent): void {
    for (const sub of this.subscriptions) {
      if (!matches(sub.filter, event)) continue;
      try {
        sub.listener(event);
      } catch (err) {
        this.options.onListenerError?.(err);
      }
    }
  }
}

/** Whether `type` is named by `pattern`: exact, `prefix.*`, or `*`. */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith('.*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

export function matches(filter: EventFilter, event: BusEvent): boolean {
  if (filter.tenantId !== undefined && filter.tenantId !== event.tenantId) return false;
  if (!filter.types || filter.types.length === 0) return true;
  return filter.types.some((t) => typeMatches(t, event.type));
}
