export { DialStringError, MAX_CALL_DURATION_SECONDS, MAX_DIAL_DELAY_SECONDS, dialTargetKey, parseDialString } from './dial-string.ts';
export type { CustomHeader, DialGroup, DialLeg, DialPlan, DialTarget, DialVars, LegOptions, RedirectMode, TransferPolicy } from './dial-string.ts';
export { failureRank, isBetterFailure } from './failure-ranking.ts';
export { ManualClock, systemClock } from './fork-clock.ts';
export type { ForkClock, ForkTimer } from './fork-clock.ts';
export { DEFAULT_RING_TIMEOUT_SECONDS, ForkExecution, LegBudget, MAX_RING_TIMEOUT_SECONDS, startFork } from './forking.ts';
export type { DialOutcome, DialRedirect, DialResult, ForkObserver, ForkOptions, LegAnswer, LegFailure, LegHandle, LegObserver, LegOutcome, LegStarter, LegState } from './forking.ts';
export { MAX_NESTED_DIALPLAN_DEPTH, resolveLeg } from './leg-resolver.ts';
