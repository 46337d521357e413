/**
 * A state with its allowed transitions in one table (DESIGN.md conventions): every change goes
 * through `to`, and one the table does not allow is a bug in the caller, so it throws.
 */
export class StateMachine<S extends string> {
  constructor(private current: S, private readonly allowed: Readonly<Record<S, readonly S[]>>, private readonly name: string) {}

  get state(): S {
    return this.current;
  }

  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  can(next: S): boolean {
    return this.allowed[this.current].includes(next);
  }

  to(next: S): void {
    if (!this.can(next)) throw new IllegalTransitionError(`${this.name}: ${this.current} → ${next} is not allowed`);
    this.current = next;
  }
}

export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
}
