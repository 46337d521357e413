export { controlSide } from './control-side.ts';
export type { ControllableCall, ControlParty, ControlResult, LiveCallView, ParkedCallView } from './control-types.ts';
export { CallControl } from './call-control.ts';
export type { CallDirectoryForControl, PlaceCallResult } from './call-control.ts';
export { cancelConsult, completeConsult, startConsult } from './consult-transfer.ts';
export type { Consult, ConsultingCall, ConsultResult } from './consult-transfer.ts';
export { holdParty, unholdParty } from './hold-control.ts';
export type { HoldState } from './hold-control.ts';
