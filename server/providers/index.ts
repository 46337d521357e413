// Outbound trunks: provider legs and the tenant's destination policy (the money guard).
export { DEFAULT_PROVISIONAL_TIMEOUT_MS, ProviderLegs, type ProviderLegPlan, type ProviderLegRequest } from './provider-legs.ts';
export { DbProviderSource, type ProviderRecord, type ProviderSource } from './provider-directory.ts';
export { ProviderCallGuard, type GuardClock, type GuardVerdict } from './provider-call-guard.ts';
export { checkDestination, type DestinationVerdict } from './destination-policy.ts';
export { formatForProvider, toE164 } from './number-format.ts';
export { ProviderRegistrationAgent, ProviderRegistrationClient, RegistrationState, registrationContactUser } from './registration-agent.ts';
export type { AgentTimers, RegisterOutcome, RegisterSender, RegistrationAgentOptions, RegistrationEvent } from './registration-agent.ts';
export { backoffDelayMs, refreshDelayMs, FIRST_BACKOFF_MS, MAX_BACKOFF_MS } from './registration-schedule.ts';
export { InboundProviderMatcher, type InboundMatch, type InboundMatcherDeps, type InboundRequestView } from './inbound-matcher.ts';
export { ProviderHealth, MAX_PINGED_TARGETS, targetKey, PING_FAILURES_FOR_DOWN, PING_TIMEOUT_MS, type ProviderHealthEvent, type ProviderHealthOptions } from './provider-health.ts';
