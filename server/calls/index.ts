export {
  parseDialString, dialTargetKey, defaultLegOptions, DialStringError,
  MAX_DIAL_DELAY_SECONDS, MAX_CALL_DURATION_SECONDS,
} from './dial-string.ts';
export type {
  DialVars, DialPlan, DialGroup, DialLeg, DialTarget, LegOptions, TransferPolicy, RedirectMode, CustomHeader,
} from './dial-string.ts';
export {
  ForkExecution, startFork, LegBudget, MAX_RING_TIMEOUT_SECONDS, DEFAULT_RING_TIMEOUT_SECONDS,
} from './forking.ts';
export type {
  LegObserver, LegAnswer, LegFailure, LegHandle, LegStarter, ForkObserver, ForkOptions, LegState, LegOutcome,
  DialOutcome, DialRedirect, DialResult,
} from './forking.ts';
export { failureRank, isBetterFailure } from './failure-ranking.ts';
export { systemClock, ManualClock } from './fork-clock.ts';
export type { ForkClock, ForkTimer } from './fork-clock.ts';
export { rewriteSdpForNat } from './sdp-rewrite.ts';
export type { SdpRewriteOptions, SdpRewriteResult } from './sdp-rewrite.ts';
export { webGet, fetchPinned, pinnedLookup, isForbiddenWebGetAddress, WebGetError, WEB_GET_MAX_BYTES, WEB_GET_MAX_TIMEOUT_MS } from './web-get.ts';
export type { WebGetResponse, WebGetDeps, PinnedRequest, ResolvedAddress } from './web-get.ts';
export { classifyIpAddress, isNatPrivateAddress, unmapIpv4 } from './ip-address-class.ts';
export type { IpAddressClass } from './ip-address-class.ts';
export type {
  CallDirection, CallParty, CallCreatedEvent, LegRingingEvent, CallAnsweredEvent, CallEndedEvent, CallEvent,
  HangupSide, CdrLeg, CdrTransfer, CdrRecord,
} from './call-events.ts';
export { CallService } from './call-service.ts';
export type { ActiveCallInfo } from './call-service.ts';
export type {
  CallAccount, CallAccountDirectory, LocationLookup, DialplanStore, StoredDialplan, KeyValueStore, CdrSink, DialplanRunner,
  DialplanLogEvent, TransferRefusedEvent, CallServiceEvent, CallServiceOptions,
} from './call-service-deps.ts';
export { enumLookup, enumDomain, applyNaptrRegexp, EnumLookupError } from './enum-lookup.ts';
export type { EnumLookupOptions, NaptrRecord } from './enum-lookup.ts';
export { MAX_NESTED_DIALPLAN_DEPTH } from './leg-resolver.ts';
export { CALLBACK_SECOND_RING_SECONDS } from './callback-call.ts';
export { DB_MAX_KEY_LENGTH, DB_MAX_VALUE_LENGTH } from './sys-functions.ts';
export type { CallbackResult } from './sys-functions.ts';
