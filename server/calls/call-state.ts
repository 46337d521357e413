import { StateMachine } from './state-machine.ts';

/** Life of a call through the B2BUA; the same for calls from a phone and sys.Callback calls. */
export enum CallState {
  /** Dialplan running or legs ringing; the caller (if any) has no final response yet. */
  Dialing = 'dialing',
  /** Two parties bridged. */
  Answered = 'answered',
  Ended = 'ended',
}

const CALL_TRANSITIONS: Record<CallState, readonly CallState[]> = {
  [CallState.Dialing]: [CallState.Answered, CallState.Ended],
  [CallState.Answered]: [CallState.Ended],
  [CallState.Ended]: [],
};

export function callStateMachine(): StateMachine<CallState> {
  return new StateMachine<CallState>(CallState.Dialing, CALL_TRANSITIONS, 'call');
}
