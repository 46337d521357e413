/** The time source of the fork controller, injectable so tests run without real waiting. */
export interface ForkTimer { cancel(): void }

export interface ForkClock {
  /** Milliseconds since the epoch (or any fixed origin, consistently). */
  now(): number;
  setTimer(ms: number, fire: () => void): ForkTimer;
}

export const systemClock: ForkClock = {
  now: () => Date.now(),
  setTimer(ms, fire) {
    const t = setTimeout(fire, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that only moves when told to; for tests of timed call logic. */
export class ManualClock implements ForkClock {
  private current: number;
  private timers: Array<{ at: number; seq: number; fire: () => void; cancelled: boolean }> = [];
  private seq = 0;

  constructor(start = 1_000_000) { this.current = start; }

  now(): number { return this.current; }

  setTimer(ms: number, fire: () => void): ForkTimer {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fire, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number { return this.timers.filter((t) => !t.cancelled).length; }

  /** Moves time forward, firing due timers in order (timers set while firing included). */
  advance(ms: number): void {
    const end = this.current + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.current = due.at;
      due.fire();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = end;
  }
}
