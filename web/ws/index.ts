export { createEventHub, EVENTS_PATH, DEFAULT_EVENT_HUB_LIMITS } from './event-hub.ts';
export type { EventHub, EventHubDeps, EventHubLimits, TraceSwitch } from './event-hub.ts';
export { SipTraceTap } from './sip-trace-tap.ts';
export type { TrafficSource, SipCallOwners, RegistrationCallIds } from './sip-trace-tap.ts';
export { registrationsOf } from './snapshot-sources.ts';
export type { SnapshotSources, RegistrationView, ParkedCallView, BindingLike } from './snapshot-sources.ts';
export { CLOSE_TRY_AGAIN_LATER } from './event-client.ts';
export type { ClientSubscription } from './event-client.ts';
export { bearerTokenAuthenticator } from './token-authenticator.ts';
