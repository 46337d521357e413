import { dialTargetKey, type DialLeg, type DialPlan, type DialTarget, type RedirectMode } from './dial-string.ts';
import { isBetterFailure } from './failure-ranking.ts';
import { systemClock, type ForkClock, type ForkTimer } from './fork-clock.ts';

/** What a started leg reports back. Calls after the controller cancelled the leg or finished are ignored. */
export interface LegObserver {
  /** 180 (or 183 without SDP). */
  ringing(): void;
  /** 18x with SDP (early media). */
  progress(sdp: string): void;
  /** 2xx. */
  answered(answer: LegAnswer): void;
  /** Final non-2xx, or no response / transport error (report 408 / 503). For 3xx pass the Contact URIs. */
  failed(failure: LegFailure): void;
}

export interface LegAnswer { sdp?: string }
export interface LegFailure { status: number; reason: string; redirectTargets?: string[] }

export interface LegHandle {
  /**
   * Stop this leg (CANCEL, or nothing if no INVITE went out yet). If the leg answers anyway
   * (the 200 crossed the CANCEL), the implementation must ACK and BYE it itself: the controller
   * ignores every event of a leg after cancelling it.
   */
  cancel(): void;
}

/** Starts the B leg for one dial-string leg (the B2BUA implements this on top of the SIP stack). */
export interface LegStarter<H extends LegHandle = LegHandle> {
  start(leg: DialLeg, observer: LegObserver): H;
}

/** The legs an execution of a dialplan may start across all its Dials (DESIGN.md: ≤ 20). */
export class LegBudget {
  private used = 0;
  constructor(readonly limit = 20) {}
  get remaining(): number { return this.limit - this.used; }
  tryTake(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
}

export const MAX_RING_TIMEOUT_SECONDS = 180;
export const DEFAULT_RING_TIMEOUT_SECONDS = 60;

export interface ForkObserver {
  legRinging?(leg: LegOutcome): void;
  legProgress?(leg: LegOutcome, sdp: string): void;
}

export interface ForkOptions<H extends LegHandle = LegHandle> {
  plan: DialPlan;
  starter: LegStarter<H>;
  clock?: ForkClock;
  /** Whole Dial (all groups), clamped to 1–180 s; default 60. */
  ringTimeoutSeconds?: number;
  /** Shared by all Dials of one dialplan execution; default a fresh budget of 20. */
  legBudget?: LegBudget;
  observer?: ForkObserver;
  /**
   * Domains whose `user@domain` Contacts in a 3xx name the tenant's own accounts (the tenant's
   * domain); `user@local` always does. Without them only `@local` Contacts count as own.
   */
  ownDomains?: readonly string[];
}

export type LegState =
  | 'pending'      // group not reached yet or dt not elapsed
  | 'calling'      // started, no 18x yet
  | 'ringing'      // 18x seen
  | 'answered'
  | 'failed'
  | 'redirected'   // 3xx
  | 'cancelled'    // started and then cancelled by the controller
  | 'not-started'  // never started (Dial finished first)
  | 'over-limit';  // not started: leg budget spent

/** One leg as reported for the CDR. Times are clock milliseconds. */
export interface LegOutcome {
  id: number;
  groupIndex: number;
  /** Id of the leg whose 3xx produced this one. */
  parentId?: number;
  target: DialTarget;
  key: string;
  state: LegState;
  status?: number;
  reason?: string;
  startedAt?: number;
  ringingAt?: number;
  answeredAt?: number;
  endedAt?: number;
}

export type DialOutcome = 'answered' | 'failed' | 'timeout' | 'cancelled' | 'redirected';

export interface DialRedirect {
  mode: Exclude<RedirectMode, 'follow' | 'own-accounts'>;
  status: number;
  reason: string;
  targets: string[];
  legId: number;
}

export interface DialResult<H extends LegHandle = LegHandle> {
  answered: boolean;
  status: number;
  reason: string;
  outcome: DialOutcome;
  winner?: { leg: DialLeg; outcome: LegOutcome; handle: H; answer: LegAnswer };
  /**
   * Set when a leg with rm=m / rm=n got a 3xx, or one without rm a 3xx to somewhere other than
   * the tenant's accounts, and nobody answered (outcome 'redirected'). The first such 3xx wins.
   */
  redirect?: DialRedirect;
  legs: LegOutcome[];
  startedAt: number;
  endedAt: number;
}

interface LegRecord<H> {
  outcome: LegOutcome;
  leg: DialLeg;
  handle?: H;
  timer?: ForkTimer;
  due: boolean;
}

const ACTIVE: ReadonlySet<LegState> = new Set(['calling', 'ringing']);

/**
 * Runs one Dial: groups in sequence, legs of a group in parallel, dt-delayed legs started late.
 * The first answer wins and every other leg is cancelled (delayed ones never start). A group is
 * over when none of its legs is active; legs still waiting for their dt are then started at once
 * rather than leaving the caller in silence. When the last group is over the best failure
 * (failure-ranking.ts) is the result. The ring timeout covers the whole Dial.
 */
export class ForkExecution<H extends LegHandle = LegHandle> {
  readonly result: Promise<DialResult<H>>;
  private resolve!: (r: DialResult<H>) => void;
  private readonly records: Array<LegRecord<H>> = [];
  private readonly groupCount: number;
  private readonly seenKeys = new Set<string>();
  private readonly clock: ForkClock;
  private readonly budget: LegBudget;
  private readonly startedAt: number;
  private currentGroup = -1;
  private ringTimer?: ForkTimer;
  private stop?: 'timeout' | 'cancelled';
  private winner?: { record: LegRecord<H>; answer: LegAnswer };
  private bestFailure?: { status: number; reason: string };
  private redirect?: DialRedirect;
  private overLimit = false;
  private finished = false;
  private pumping = false;
  private dirty = false;

  constructor(private readonly opts: ForkOptions<H>) {
    this.result = new Promise((resolve) => { this.resolve = resolve; });
    this.clock = opts.clock ?? systemClock;
    this.budget = opts.legBudget ?? new LegBudget();
    this.startedAt = this.clock.now();
    this.groupCount = opts.plan.groups.length;
    opts.plan.groups.forEach((g, groupIndex) => {
      for (const leg of g.legs) this.addRecord(leg, groupIndex);
    });
    const ringSeconds = Math.min(MAX_RING_TIMEOUT_SECONDS, Math.max(1, opts.ringTimeoutSeconds ?? DEFAULT_RING_TIMEOUT_SECONDS));
    this.ringTimer = this.clock.setTimer(ringSeconds * 1000, () => {
      this.stop ??= 'timeout';
      this.pump();
    });
    this.pump();
  }

  /** The caller gave up (CANCEL/BYE on the A leg): cancel everything, outcome 'cancelled'. */
  cancel(): void {
    if (this.finished) return;
    this.stop ??= 'cancelled';
    this.pump();
  }

  private addRecord(leg: DialLeg, groupIndex: number, parentId?: number): LegRecord<H> {
    this.seenKeys.add(leg.key);
    const record: LegRecord<H> = {
      leg,
      due: false,
      outcome: { id: this.records.length + 1, groupIndex, parentId, target: leg.target, key: leg.key, state: 'pending' },
    };
    this.records.push(record);
    return record;
  }

  /** Serializes all state changes: events raised from inside start()/cancel() are handled after it returns. */
  private pump(): void {
    if (this.pumping) { this.dirty = true; return; }
    this.pumping = true;
    try {
      for (let guard = 0; guard < 10_000; guard++) {
        this.dirty = false;
        const changed = this.step();
        if (!changed && !this.dirty) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  private step(): boolean {
    if (this.finished) return false;
    if (this.winner) { this.finish('answered'); return true; }
    if (this.stop) { this.finish(this.stop); return true; }
    const inGroup = this.records.filter((r) => r.outcome.groupIndex === this.currentGroup);
    const due = inGroup.find((r) => r.outcome.state === 'pending' && r.due);
    if (due) { this.startRecord(due); return true; }
    const active = inGroup.some((r) => ACTIVE.has(r.outcome.state));
    if (active) return false;
    const waiting = inGroup.filter((r) => r.outcome.state === 'pending');
    if (waiting.length) {
      for (const r of waiting) { r.timer?.cancel(); r.due = true; }
      return true;
    }
    if (this.currentGroup + 1 < this.groupCount) { this.startGroup(this.currentGroup + 1); return true; }
    this.finish(this.redirect ? 'redirected' : 'failed');
    return true;
  }

  private startGroup(index: number): void {
    this.currentGroup = index;
    for (const r of this.records) {
      if (r.outcome.groupIndex !== index) continue;
      const delay = r.leg.options.delaySeconds;
      if (delay <= 0) { r.due = true; continue; }
      r.timer = this.clock.setTimer(delay * 1000, () => {
        r.timer = undefined;
        r.due = true;
        this.pump();
      });
    }
  }

  private startRecord(r: LegRecord<H>): void {
    r.due = false;
    if (!this.budget.tryTake()) {
      r.outcome.state = 'over-limit';
      this.overLimit = true;
      return;
    }
    r.outcome.state = 'calling';
    r.outcome.startedAt = this.clock.now();
    try {
      r.handle = this.opts.starter.start(r.leg, this.observerFor(r));
    } catch (err) {
      if (ACTIVE.has(r.outcome.state)) this.legFailed(r, { status: 500, reason: `Leg could not be started: ${(err as Error).message}` });
    }
  }

  private observerFor(r: LegRecord<H>): LegObserver {
    const live = (): boolean => !this.finished && ACTIVE.has(r.outcome.state);
    return {
      ringing: () => {
        if (!live()) return;
        r.outcome.state = 'ringing';
        r.outcome.ringingAt ??= this.clock.now();
        this.opts.observer?.legRinging?.(r.outcome);
      },
      progress: (sdp) => {
        if (!live()) return;
        r.outcome.state = 'ringing';
        r.outcome.ringingAt ??= this.clock.now();
        this.opts.observer?.legProgress?.(r.outcome, sdp);
      },
      answered: (answer) => {
        if (!live() || this.winner || this.stop) return;
        r.outcome.state = 'answered';
        r.outcome.status = 200;
        r.outcome.answeredAt = this.clock.now();
        this.winner = { record: r, answer };
        this.pump();
      },
      failed: (failure) => {
        if (!live()) return;
        this.legFailed(r, failure);
        this.pump();
      },
    };
  }

  private legFailed(r: LegRecord<H>, failure: LegFailure): void {
    const o = r.outcome;
    o.status = failure.status;
    o.reason = failure.reason;
    o.endedAt = this.clock.now();
    if (failure.status >= 300 && failure.status < 400) {
      o.state = 'redirected';
      const targets = (failure.redirectTargets ?? []).map(normalizeRedirectTarget).filter((t): t is string => t !== undefined);
      const mode = r.leg.options.redirectMode;
      if (mode === 'manual' || mode === 'new-dialplan') {
        this.redirect ??= { mode, status: failure.status, reason: failure.reason, targets, legId: o.id };
        return;
      }
      const follow: DialTarget[] = [];
      const elsewhere: string[] = [];
      for (const uri of targets) {
        const own = this.ownAccountTarget(uri);
        if (own) follow.push(own);
        else if (mode === 'follow') follow.push({ kind: 'uri', uri });
        else elsewhere.push(uri);
      }
      if (elsewhere.length) {
        this.redirect ??= { mode: 'new-dialplan', status: failure.status, reason: failure.reason, targets: elsewhere, legId: o.id };
      }
      let added = 0;
      for (const target of follow) {
        const key = dialTargetKey(target);
        if (this.seenKeys.has(key)) continue;
        const child = this.addRecord(
          { target, key, position: r.leg.position, options: { ...r.leg.options, delaySeconds: 0, customHeaders: [...r.leg.options.customHeaders] } },
          o.groupIndex,
          o.id,
        );
        child.due = true;
        added++;
      }
      if (added > 0 || elsewhere.length) return;
    } else {
      o.state = 'failed';
    }
    if (isBetterFailure(failure.status, this.bestFailure?.status)) this.bestFailure = { status: failure.status, reason: failure.reason };
  }

  /**
   * A Contact the leg resolver would resolve as one of the tenant's accounts becomes that
   * account (its bindings or its dialplan), never the host and port the Contact names.
   */
  private ownAccountTarget(uri: string): DialTarget | undefined {
    const m = /^sips?:([^@;?]+)@([^;?:]+)(?::\d+)?(?:[;?].*)?$/i.exec(uri);
    if (!m) return undefined;
    const user = m[1]!;
    const host = m[2]!.toLowerCase().replace(/\.$/, '');
    if (!OWN_ACCOUNT_USER_RE.test(user)) return undefined;
    if (host !== 'local' && !(this.opts.ownDomains ?? []).some((d) => d.toLowerCase() === host)) return undefined;
    return { kind: 'local', user };
  }

  private finish(outcome: DialOutcome): void {
    this.finished = true;
    this.ringTimer?.cancel();
    const now = this.clock.now();
    for (const r of this.records) {
      r.timer?.cancel();
      const o = r.outcome;
      if (o.state === 'pending') o.state = 'not-started';
      else if (ACTIVE.has(o.state)) {
        o.state = 'cancelled';
        o.endedAt = now;
        try { r.handle?.cancel(); } catch { /* a failing cancel must not keep the other legs alive */ }
      }
    }
    const legs = this.records.map((r) => ({ ...r.outcome }));
    const base = { legs, startedAt: this.startedAt, endedAt: now };
    let result: DialResult<H>;
    if (outcome === 'answered' && this.winner) {
      const w = this.winner.record;
      result = {
        ...base, answered: true, status: 200, reason: 'OK', outcome,
        winner: { leg: w.leg, outcome: legs[w.outcome.id - 1], handle: w.handle!, answer: this.winner.answer },
      };
    } else if (outcome === 'timeout') {
      result = { ...base, answered: false, status: 408, reason: 'Ring timeout', outcome };
    } else if (outcome === 'cancelled') {
      result = { ...base, answered: false, status: 487, reason: 'Request Terminated', outcome };
    } else if (outcome === 'redirected' && this.redirect) {
      result = { ...base, answered: false, status: this.redirect.status, reason: this.redirect.reason, outcome, redirect: this.redirect };
    } else if (this.bestFailure) {
      result = { ...base, answered: false, status: this.bestFailure.status, reason: this.bestFailure.reason, outcome: 'failed' };
    } else if (this.overLimit) {
      result = { ...base, answered: false, status: 503, reason: 'Dial leg limit reached', outcome: 'failed' };
    } else {
      result = { ...base, answered: false, status: 480, reason: 'Temporarily Unavailable', outcome: 'failed' };
    }
    this.resolve(result);
  }
}

/** What an account name can be; anything else in a Contact is not taken for one of them. */
const OWN_ACCOUNT_USER_RE = /^[A-Za-z0-9\-_.!~*'()+]{1,64}$/;

/** Contact URIs from a 3xx: sip/sips only, angle brackets and header params stripped. */
function normalizeRedirectTarget(contact: string): string | undefined {
  let t = contact.trim();
  const lt = t.indexOf('<');
  if (lt >= 0) {
    const gt = t.indexOf('>', lt);
    if (gt < 0) return undefined;
    t = t.slice(lt + 1, gt).trim();
  }
  if (!/^sips?:[^\s<>"]+$/i.test(t) || t.length > 1024) return undefined;
  return t;
}

/** Starts a Dial; await `.result`. */
export function startFork<H extends LegHandle>(opts: ForkOptions<H>): ForkExecution<H> {
  return new ForkExecution(opts);
}
