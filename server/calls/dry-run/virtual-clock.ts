import type { ForkClock, ForkTimer } from '../dial/index.ts';

interface VirtualTimer { at: number; seq: number; fire: () => void; cancelled: boolean }

/**
 * Simulated time for a dry run's Dials: timers fire in order, as fast as the code runs, and
 * `now()` jumps to each one. Time never goes back, so several Dials of one run line up.
 */
export class VirtualClock implements ForkClock {
  private current = 0;
  private seq = 0;
  private timers: VirtualTimer[] = [];

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fire: () => void): ForkTimer {
    const timer: VirtualTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fire, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Fires timers in order until none is left (bounded: a fork sets a handful per leg). */
  runAll(maxTimers = 10_000): void {
    for (let i = 0; i < maxTimers; i++) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers.reduce<VirtualTimer | undefined>((a, t) => (!a || t.at < a.at || (t.at === a.at && t.seq < a.seq) ? t : a), undefined);
      if (!next) return;
      next.cancelled = true;
      this.current = next.at;
      next.fire();
    }
  }
}
