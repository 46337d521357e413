/** Every event carries the tenant it belongs to; consumers filter on it so tenants never see each other. */
export interface BusEvent {
  type: string;
  tenantId: number | string | null;
  /** Milliseconds since the epoch, stamped by the bus when absent. */
  at?: number;
}

/** What the bus hands to subscribers: the event plus its place in the node's ordered stream. */
export interface SequencedEvent extends BusEvent {
  seq: number;
  at: number;
  [key: string]: unknown;
}

export type EventListener = (event: SequencedEvent) => void;

export interface EventFilter {
  /** Exact type or a prefix ending in `.*` (`registration.*`). */
  types?: string[];
  tenantId?: number | string;
}
