import { StateMachine } from '../state-machine.ts';

/** Signalling state of one leg (INVITE session), after SIP.js's session states and RFC 3261 §12/§13. */
export enum SessionState {
  /** INVITE sent, nothing heard yet. */
  Trying = 'trying',
  /** 100 Trying received. */
  Proceeding = 'proceeding',
  /** 18x with a To tag: an early dialog exists. */
  Early = 'early',
  /** 2xx: the dialog is confirmed. */
  Confirmed = 'confirmed',
  Terminated = 'terminated',
}

const SESSION_TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  [SessionState.Trying]: [SessionState.Proceeding, SessionState.Early, SessionState.Confirmed, SessionState.Terminated],
  [SessionState.Proceeding]: [SessionState.Early, SessionState.Confirmed, SessionState.Terminated],
  [SessionState.Early]: [SessionState.Confirmed, SessionState.Terminated],
  [SessionState.Confirmed]: [SessionState.Terminated],
  [SessionState.Terminated]: [],
};

export function sessionStateMachine(): StateMachine<SessionState> {
  return new StateMachine<SessionState>(SessionState.Trying, SESSION_TRANSITIONS, 'leg');
}
