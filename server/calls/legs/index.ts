export { parseCallerId } from './caller-id.ts';
export type { CallerId } from './caller-id.ts';
export { DeferredLeg } from './deferred-leg.ts';
export type { BridgeableLeg } from './deferred-leg.ts';
export { OutboundLeg } from './outbound-leg.ts';
export { UacBranch } from './uac-branch.ts';
export type { BranchContext, BranchRequest, BranchTarget } from './uac-branch.ts';
export { uacParty, uasParty } from './bridge-parties.ts';
export { SessionState } from './session-state.ts';
