import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '../state-machine.ts';
import { SessionState, sessionStateMachine } from './session-state.ts';

describe('sessionStateMachine', () => {
  it('refuses a transition its table does not allow and stays where it was', () => {
    const m = sessionStateMachine();
    m.to(SessionState.Early);
    expect(() => m.to(SessionState.Proceeding)).toThrow(IllegalTransitionError);
    expect(m.state).toBe(SessionState.Early);
    m.to(SessionState.Confirmed);
    m.to(SessionState.Terminated);
    expect(() => m.to(SessionState.Confirmed)).toThrow(IllegalTransitionError);
    expect(m.state).toBe(SessionState.Terminated);
  });

  it('starts Confirmed for a leg made of an answered INVITE: only Terminated is left', () => {
    const m = sessionStateMachine(SessionState.Confirmed);
    expect(m.can(SessionState.Early)).toBe(false);
    expect(m.can(SessionState.Terminated)).toBe(true);
  });
});
