import { StateMachine } from '../state-machine.ts';

/**
 * Signalling state of one leg (INVITE session), after SIP.js's session states and RFC 3261 §12/§13.
 * A UAC leg moves on what it hears, a UAS leg on what it answers.
 */
export enum SessionState {
  /** INVITE sent (or received), nothing answered yet. */
  Trying = 'trying',
  /** 100 Trying received. */
  Proceeding = 'proceeding',
  /** 18x with a To tag: an early dialog exists. */
  Early = 'early',
  /** 2xx: the dialog is confirmed. */
  Confirmed = 'confirmed',
  /** A final failure, a CANCEL, or a BYE sent or received. */
  Terminated = 'terminated',
}

const SESSION_TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  [SessionState.Trying]: [SessionState.Proceeding, SessionState.Early, SessionState.Confirmed, SessionState.Terminated],
  [SessionState.Proceeding]: [SessionState.Early, SessionState.Confirmed, SessionState.Terminated],
  [SessionState.Early]: [SessionState.Confirmed, SessionState.Terminated],
  [SessionState.Confirmed]: [SessionState.Terminated],
  [SessionState.Terminated]: [],
};

/** `start`: Confirmed for a leg made of an INVITE already answered (a phone's takeover, a pickup). */
export function sessionStateMachine(start = SessionState.Trying): StateMachine<SessionState> {
  return new StateMachine<SessionState>(start, SESSION_TRANSITIONS, 'leg');
}
