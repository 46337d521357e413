import type { BusEvent, EventFilter, EventListener, SequencedEvent } from './event-types.ts';

interface Subscription {
  filter: EventFilter;
  listener: EventListener;
}

/**
 * In-process event bus. Events are numbered so a reconnecting client can resume from the last
 * sequence it saw; a bounded backlog is kept for that. A throwing subscriber is isolated so one
 * bad consumer cannot stop the SIP path that emitted the event.
 */
export class EventBus {
  private seq = 0;
  private readonly subscriptions = new Set<Subscription>();
  private readonly backlog: SequencedEvent[] = [];

  constructor(private readonly options: { backlogSize?: number; onListenerError?: (err: unknown) => void } = {}) {}

  emit(event: BusEvent): SequencedEvent {
    const sequenced: SequencedEvent = { ...event, at: event.at ?? Date.now(), seq: ++this.seq };
    this.backlog.push(sequenced);
    if (this.backlog.length > (this.options.backlogSize ?? 10_000)) this.backlog.shift();
    for (const sub of this.subscriptions) {
      if (!matches(sub.filter, sequenced)) continue;
      try {
        sub.listener(sequenced);
      } catch (err) {
        this.options.onListenerError?.(err);
      }
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
    const oldest = this.backlog[0];
    if (oldest && afterSeq < oldest.seq - 1) return undefined;
    return this.backlog.filter((e) => e.seq > afterSeq && matches(filter, e));
  }

  get lastSeq(): number {
    return this.seq;
  }
}

export function matches(filter: EventFilter, event: BusEvent): boolean {
  if (filter.tenantId !== undefined && String(filter.tenantId) !== String(event.tenantId)) return false;
  if (!filter.types || filter.types.length === 0) return true;
  return filter.types.some((t) => (t.endsWith('.*') ? event.type.startsWith(t.slice(0, -1)) : event.type === t));
}
