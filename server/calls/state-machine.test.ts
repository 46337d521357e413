import { describe, expect, it } from 'vitest';
import { CallState, callStateMachine } from './call-state.ts';
import { SessionState, sessionStateMachine } from './legs/session-state.ts';
import { IllegalTransitionError } from './state-machine.ts';

describe('call states', () => {
  it('goes dialing → answered → ended', () => {
    const m = callStateMachine();
    m.to(CallState.Answered);
    m.to(CallState.Ended);
    expect(m.state).toBe(CallState.Ended);
  });

  it('refuses to answer an ended call or to go back to dialing', () => {
    const m = callStateMachine();
    m.to(CallState.Ended);
    expect(() => m.to(CallState.Answered)).toThrow(IllegalTransitionError);
    const n = callStateMachine();
    n.to(CallState.Answered);
    expect(() => n.to(CallState.Dialing)).toThrow(/answered → dialing/);
  });
});

describe('leg (session) states', () => {
  it('follows Trying → Proceeding → Early → Confirmed → Terminated', () => {
    const m = sessionStateMachine();
    for (const s of [SessionState.Proceeding, SessionState.Early, SessionState.Confirmed, SessionState.Terminated]) m.to(s);
    expect(m.state).toBe(SessionState.Terminated);
  });

  it('never leaves Terminated and never goes back to early from confirmed', () => {
    const m = sessionStateMachine();
    m.to(SessionState.Terminated);
    expect(m.can(SessionState.Confirmed)).toBe(false);
    expect(() => m.to(SessionState.Proceeding)).toThrow(IllegalTransitionError);
    const c = sessionStateMachine();
    c.to(SessionState.Confirmed);
    expect(() => c.to(SessionState.Early)).toThrow(IllegalTransitionError);
  });
});
