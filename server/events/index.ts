export { EventBus, matches, typeMatches } from './event-bus.ts';
export { RingBuffer } from './ring-buffer.ts';
export type {
  BusEvent, EventFilter, EventListener, SequencedEvent, PatchbayEvent, PatchbayEventType, EventEndpoint,
  CallDirection, HangupSide, CallParty, CallCreatedEvent, LegRingingEvent, CallAnsweredEvent, CallEndedEvent,
  CallTransferEvent, CallHoldEvent, CallPartyEvent, DialplanLogEvent, CallEvent, CallServiceEvent,
  RegistrationRemovalReason, RegistrationAddedEvent, RegistrationRefreshedEvent, RegistrationRemovedEvent,
  RegistrationExpiredEvent, RegistrationFailedEvent, RegistrationEvent,
  ExtensionState, ExtensionStateEvent, SipTraceEvent, ConfigChangedEvent,
  CallBlockedEvent, CallTakeoverEvent, CallParkEvent, ProviderRegistrationEvent, ProviderHealthEvent, AccountDndEvent,
} from './event-types.ts';
export type { CallNoteEvent } from './event-types.ts';
