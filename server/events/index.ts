export { EventBus, matches } from './event-bus.ts';
export type { BusEvent, EventFilter, EventListener, SequencedEvent } from './event-types.ts';
