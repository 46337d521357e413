export {
  parseDialString, dialTargetKey, DialStringError,
  MAX_DIAL_DELAY_SECONDS, MAX_CALL_DURATION_SECONDS,
} from './dial/index.ts';
export type {
  DialVars, DialPlan, DialGroup, DialLeg, DialTarget, LegOptions, TransferPolicy, RedirectMode, CustomHeader,
} from './dial/index.ts';
export {
  ForkExecution, startFork, LegBudget, MAX_RING_TIMEOUT_SECONDS, DEFAULT_RING_TIMEOUT_SECONDS,
} from './dial/index.ts';
export type {
  LegObserver, LegAnswer, LegFailure, LegHandle, LegStarter, ForkObserver, ForkOptions, LegState, LegOutcome,
  DialOutcome, DialRedirect, DialResult,
} from './dial/index.ts';
export { failureRank, isBetterFailure } from './dial/index.ts';
export { systemClock, ManualClock } from './dial/index.ts';
export type { ForkClock, ForkTimer } from './dial/index.ts';
export { rewriteSdpForNat } from './bridge/index.ts';
export type { SdpRewriteOptions, SdpRewriteResult } from './bridge/index.ts';
export { webGet, fetchPinned, pinnedLookup, isForbiddenWebGetAddress, WebGetError, WEB_GET_MAX_BYTES, WEB_GET_MAX_TIMEOUT_MS } from './dialplan/index.ts';
export type { WebGetResponse, WebGetDeps, PinnedRequest, ResolvedAddress } from './dialplan/index.ts';
export { classifyIpAddress, isNatPrivateAddress, unmapIpv4 } from './bridge/index.ts';
export type { IpAddressClass } from './bridge/index.ts';
export type {
  CallDirection, CallParty, CallCreatedEvent, LegRingingEvent, CallAnsweredEvent, CallEndedEvent, CallEvent,
  HangupSide, CdrLeg, CdrTransfer, CdrRecord,
} from './records/index.ts';
export { CallService } from './call-service.ts';
export type { ActiveCallInfo, AccountAuthResult } from './call-service.ts';
export type { PhoneDialog } from './phone-dialog.ts';
export type {
  CallAccount, CallAccountDirectory, LocationLookup, DialplanStore, StoredDialplan, KeyValueStore, CdrSink, DialplanRunner,
  DialplanLogEvent, TransferEvent, CallServiceEvent, CallServiceOptions, SipCallOwner,
} from './call-service-deps.ts';
export { enumLookup, enumDomain, applyNaptrRegexp, EnumLookupError } from './dialplan/index.ts';
export type { EnumLookupOptions, NaptrRecord } from './dialplan/index.ts';
export { MAX_NESTED_DIALPLAN_DEPTH } from './dial/index.ts';
export { CALLBACK_SECOND_RING_SECONDS } from './callback-call.ts';
export { DB_MAX_KEY_LENGTH, DB_MAX_VALUE_LENGTH } from './dialplan/index.ts';
export type { CallbackResult } from './dialplan/index.ts';
export { DbDialplanStore, callAccountsFrom, cdrSinkFor } from './records/index.ts';
export { CallControl } from './control/index.ts';
export type { ControlParty, ControlResult, LiveCallView, ParkedCallView, PlaceCallResult } from './control/index.ts';
export { LegDestinationPolicy } from './dial/index.ts';
export { parseParkSlots } from './park/index.ts';
export type { ParkSettings, StoredParkSettings } from './park/index.ts';
export { CallerNames, callerNumberOf, CallNotes, CALL_NOTE_MAX, CallAnnotations } from './control/index.ts';
export type { CallerNamesOptions, PhonebookEntry, CallNote, CallAnnotationsOptions } from './control/index.ts';
export { DialplanDryRun, DryRunRequestError, destinationText, dryRunReportText, patternMatches } from './dry-run/index.ts';
export type {
  DryRunCall, DryRunDeps, DryRunLeg, DryRunLegAction, DryRunLimit, DryRunOptions, DryRunOutcomeRule, DryRunParams, DryRunReport, DryRunTimelineEntry,
  DryRunWebGetRule,
} from './dry-run/index.ts';
