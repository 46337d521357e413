import type { IvmIsolate } from './isolated-vm-loader.ts';
import { DONE_NAME, ERROR_NAME, NOTIFY_SEQ } from './isolate-setup.ts';
import type { IsolateLease } from './isolate-pool.ts';
import type { SandboxIsolate } from './sandbox-isolate.ts';
import type { SegmentModePolicy } from './segment-mode.ts';
import { isSysFunctionName, type PlainValue, type RunMessage, type RunResult, type RunUsage, type SysFunctionName } from './protocol.ts';
import { SourceMapIndex } from './source-map.ts';
import { logLimitLine, SysCallBudget } from './sys-call-budget.ts';
import { enclosingHelpers, unwrapPosition } from './dialplan-wrapper.ts';

/** File name of the user's JS inside the isolate; stack frames are found by it. */
const DIALPLAN_SCRIPT_FILE = 'dialplan.js';
const STACK_POSITION = /dialplan\.js:(\d+):(\d+)/;
/**
 * Longest a completed run's result waits for the isolate to come back to the pool (checked by the
 * CPU watchdog, so up to one cpuCheckIntervalMs more).
 */
const REPORT_GRACE_MS = 20;
let nextRunId = 1;

export interface ExecutionChannel {
  sysCall(seq: number, name: SysFunctionName, args: PlainValue[]): void;
  sysNotify(name: 'Log', args: PlainValue[]): void;
  finished(result: RunResult, usage?: RunUsage): void;
}

/** Where an execution gets its isolate and gives it back (the worker's per-tenant pool). */
export interface IsolateSource {
  acquire(tenantId: string, memoryMiB: number): Promise<IsolateLease<SandboxIsolate>>;
  release(lease: IsolateLease<SandboxIsolate>, reusable: boolean): void;
}

/**
 * One run of one dialplan in an isolate of its tenant (fresh, or a warm one that served only
 * this tenant) in that isolate's one hardened context (see isolate-setup.ts), with its budgets:
 * memory (isolate limit), CPU
 * (script timeouts plus an `isolate.cpuTime` watchdog measured from this run's start, because
 * code that runs after an `await` is outside any timeout), wall clock (paused while a Dial is
 * pending, renewed when it settles) and an absolute deadline. The isolate runs one execution at
 * a time, so its CPU delta is this execution's. After a clean completion, once no call into the
 * isolate is in flight, the isolate goes back to the pool (the next run's `begin` puts its
 * context's global back as it was); on any failure it is disposed, and a context whose global
 * cannot be put back is never used again.
 */
export class DialplanExecution {
  private lease: IsolateLease<SandboxIsolate> | undefined;
  private sandbox: SandboxIsolate | undefined;
  private isolate: IvmIsolate | undefined;
  /** Names this run inside the shared context; dispatches and answers of other runs are dropped. */
  private readonly runId = nextRunId++;
  private cpuAtStart = 0n;
  private done = false;
  private disposedByUs = false;
  /** Completed; waiting for the calls into the isolate to return before pooling it. */
  private draining = false;
  private callsInFlight = 0;
  /** A call into the isolate failed (timeout, termination, throw): it is never pooled. */
  private callFailed = false;
  private readonly budget: SysCallBudget;
  private pendingDials = 0;
  private readonly pendingNames = new Map<number, SysFunctionName>();
  private cpuWatchdog: NodeJS.Timeout | undefined;
  private wallTimer: NodeJS.Timeout | undefined;
  private absoluteTimer: NodeJS.Timeout | undefined;
  /** performance.now() when a completed run began to wait for its calls into the isolate. */
  private drainingSince = 0;
  private pendingReport: RunResult | undefined;
  /** CPU of this run, taken when it finished (the isolate may be gone by the time it is reported). */
  private usage: RunUsage | undefined;
  /**
   * Its calls into the isolate are made on this thread (segment-mode.ts). Decided when it starts;
   * it only ever turns false during a run, so a synchronous call never waits for one of its own
   * still running on an isolate thread.
   */
  private sync: boolean;

  /** Without `segments`, every call into the isolate goes through isolated-vm's thread pool. */
  constructor(
    private readonly run: RunMessage,
    private readonly channel: ExecutionChannel,
    private readonly isolates: IsolateSource,
    private readonly segments?: SegmentModePolicy,
  ) {
    this.budget = new SysCallBudget(run.limits);
    this.sync = segments?.syncFor(run.tenantId) ?? false;
  }

  /** Whether its next call into the isolate is made on this thread (tests and diagnostics). */
  get synchronous(): boolean {
    return this.sync;
  }

  /**
   * Asked again before each call into the isolate: another run of the tenant may have been
   * demoted meanwhile (runs in flight together must not each hold the thread for a whole budget).
   */
  private syncNow(): boolean {
    return (this.sync &&= this.segments?.syncFor(this.run.tenantId) ?? false);
  }

  async start(): Promise<void> {
    const { limits } = this.run;
    try {
      this.absoluteTimer = setTimeout(() => this.fail('absolute time limit exceeded'), limits.absoluteMs);
      this.armWallClock();
      const data = JSON.stringify({
        req: this.run.req,
        dialPlanName: this.run.dialplanName,
        username: this.run.req.account?.username ?? '',
        direction: this.run.req.direction,
        logLimits: { lines: limits.maxLogLines, bytes: limits.maxLogBytes, limitLine: logLimitLine(limits) },
      });
      // A context that kept state it cannot drop is never used again; the run moves to another
      // isolate of the tenant (or a new one) once.
      for (let attempt = 0; ; attempt++) {
        const lease = await this.isolates.acquire(this.run.tenantId, limits.memoryMiB);
        this.lease = lease;
        if (this.done) {
          this.lease = undefined;
          this.isolates.release(lease, false);
          return;
        }
        const sandbox = lease.isolate;
        this.sandbox = sandbox;
        this.isolate = sandbox.isolate;
        this.cpuAtStart = sandbox.isolate.cpuTime;
        sandbox.attach(this.runId, (seq, name, json) => this.onDispatch(seq, name, json));
        const js = enclosingHelpers(this.run.js);
        const dialplan =
          sandbox.evaluatedDialplan(js) ?? (await this.enter(sandbox.dialplanFunction(js, DIALPLAN_SCRIPT_FILE, this.remainingCpuMs())));
        if (this.done) return;
        const started = this.syncNow()
          ? this.enterSync(() => sandbox.beginSync(this.runId, data, dialplan, this.remainingCpuMs()))
          : await this.enter(sandbox.begin(this.runId, data, dialplan, this.remainingCpuMs()));
        if (started) return;
        if (attempt > 0 || this.done) throw new Error('the sandbox context could not be reset');
        this.discardLease();
      }
    } catch (error) {
      this.failFromError(error);
    }
  }

  /** Gives up the isolate of a dirty context without ending the run. */
  private discardLease(): void {
    const lease = this.lease;
    this.lease = undefined;
    this.sandbox?.detach();
    this.sandbox = undefined;
    this.isolate = undefined;
    if (lease) this.isolates.release(lease, false);
  }

  /** The answer of the calls layer to a sys call of this execution. */
  settle(seq: number, reply: { value?: PlainValue; error?: string }): void {
    const name = this.pendingNames.get(seq);
    if (name === undefined || this.done || !this.sandbox) return;
    this.pendingNames.delete(seq);
    this.budget.settled(name);
    if (pausesWallClock(name)) {
      this.pendingDials--;
      this.armWallClock();
    }
    this.answer(seq, reply);
  }

  private answer(seq: number, reply: { value?: PlainValue; error?: string }): void {
    const sandbox = this.sandbox;
    if (this.done || !sandbox) return;
    const json = JSON.stringify(reply.error !== undefined ? { error: reply.error } : { value: reply.value });
    if (this.syncNow()) {
      try {
        this.enterSync(() => sandbox.settleSync(this.runId, seq, json, this.remainingCpuMs()));
      } catch (error) {
        this.failFromError(error);
      }
      return;
    }
    this.enter(sandbox.settle(this.runId, seq, json, this.remainingCpuMs())).catch((error: unknown) =>
      this.failFromError(error),
    );
  }

  /** The supervisor gave up on this execution (its channel is gone). */
  abort(reason: string): void {
    this.fail(reason, 503);
  }

  private onDispatch(seq: unknown, name: unknown, json: unknown): void {
    if (this.done || typeof seq !== 'number' || typeof name !== 'string' || typeof json !== 'string') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      return;
    }
    // Ending the run disposes the isolate, which must not happen inside its own callback.
    if (name === DONE_NAME) {
      queueMicrotask(() => this.finish({ status: 'completed' }));
      return;
    }
    if (name === ERROR_NAME) {
      const report = parsed as { message?: unknown; stack?: unknown };
      const stack = typeof report.stack === 'string' ? report.stack : '';
      queueMicrotask(() => this.failWithThrow(String(report.message ?? 'dialplan failed'), stack));
      return;
    }
    const args: PlainValue[] = Array.isArray(parsed) ? (parsed as PlainValue[]) : [];
    if (!isSysFunctionName(name)) {
      if (seq !== NOTIFY_SEQ) this.reject(seq, `sys.${name} is not a function`);
      return;
    }
    if (seq === NOTIFY_SEQ) {
      if (name === 'Log' && this.budget.admitLog(String(args[0] ?? ''))) this.channel.sysNotify('Log', args);
      return;
    }
    const refused = this.budget.admit(name);
    if (refused !== undefined) {
      this.reject(seq, refused);
      return;
    }
    this.pendingNames.set(seq, name);
    if (pausesWallClock(name)) {
      this.pendingDials++;
      this.armWallClock();
    }
    this.channel.sysCall(seq, name, args);
  }

  /** Answers a sys call locally, without the calls layer (it is refused). */
  private reject(seq: number, message: string): void {
    queueMicrotask(() => this.answer(seq, { error: message }));
  }

  /** Wall clock runs only while no Dial is pending; each settled Dial grants a fresh budget. */
  private armWallClock(): void {
    if (this.wallTimer) clearTimeout(this.wallTimer);
    this.wallTimer = undefined;
    if (this.done || this.pendingDials > 0) return;
    this.wallTimer = setTimeout(() => this.fail('wall clock limit exceeded'), this.run.limits.wallClockMs);
  }

  private cpuMsUsed(): number {
    const isolate = this.isolate;
    if (!isolate || isolate.isDisposed) return 0;
    return Number(isolate.cpuTime - this.cpuAtStart) / 1e6;
  }

  private remainingCpuMs(): number {
    return Math.max(1, Math.ceil(this.run.limits.cpuMs - this.cpuMsUsed()));
  }

  private checkCpu(): void {
    if (this.draining) {
      const waited = performance.now() - this.drainingSince;
      if (this.cpuMsUsed() > this.run.limits.cpuMs || waited >= this.run.limits.wallClockMs) this.dispose();
      else if (waited >= REPORT_GRACE_MS) this.report();
      return;
    }
    if (this.done) return;
    if (this.isolate?.isDisposed) {
      this.fail('memory limit exceeded');
      return;
    }
    if (this.cpuMsUsed() > this.run.limits.cpuMs) this.fail('cpu time limit exceeded');
  }

  private failFromError(error: unknown): void {
    if (this.done) return;
    const message = error instanceof Error ? error.message : String(error);
    if (/memory limit/i.test(message) || (this.isolate?.isDisposed && !this.disposedByUs)) {
      this.fail('memory limit exceeded');
    } else if (/timed out/i.test(message)) {
      this.fail('cpu time limit exceeded');
    } else {
      const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
      this.failWithThrow(message, `${message}\n${stack}`);
    }
  }

  private failWithThrow(message: string, stack: string): void {
    const position = this.originalPosition(stack);
    this.finish({ status: 'failed', code: 500, reason: message, ...position });
  }

  private originalPosition(stack: string): { line?: number; column?: number } {
    const match = STACK_POSITION.exec(stack);
    if (!match) return {};
    try {
      const mapped = new SourceMapIndex(this.run.sourceMap).originalPositionFor(Number(match[1]), Number(match[2]));
      return mapped ? unwrapPosition(mapped.line, mapped.column) : {};
    } catch {
      return {};
    }
  }

  private fail(reason: string, code: 500 | 503 = 500): void {
    this.finish({ status: 'failed', code, reason });
  }

  private finish(result: RunResult): void {
    if (this.done) return;
    this.done = true;
    this.usage = { cpuMs: Math.round(this.cpuMsUsed() * 1000) / 1000 };
    clearTimeout(this.wallTimer);
    clearTimeout(this.absoluteTimer);
    this.pendingNames.clear();
    if (result.status === 'completed' && this.isolate && !this.isolate.isDisposed) {
      // The dialplan's promise settled while a call into the isolate may still be running the
      // rest of its microtasks: the CPU watchdog keeps watching until that call returns. The
      // result is reported once the isolate is back in the pool (so the tenant's next call finds
      // it there), or after a short grace if leftover code keeps it busy. Both deadlines are the
      // CPU watchdog's to check: it runs exactly while a call is in flight, and a run that
      // completes usually gets its call back within the same turn, so two timers made and
      // cleared on every run bought nothing.
      this.draining = true;
      this.drainingSince = performance.now();
      this.pendingReport = result;
      if (this.callsInFlight === 0) this.returnIsolate();
      return;
    }
    this.dispose();
    this.channel.finished(result, this.usage);
  }

  private report(): void {
    const result = this.pendingReport;
    this.pendingReport = undefined;
    if (result) this.channel.finished(result, this.usage);
  }

  /**
   * Tracks a call into the isolate, so the isolate is pooled only when none is running. Code of
   * a run executes only inside such a call (the context has no timers), so the CPU watchdog runs
   * only while one is in flight: a run waiting in `sys.Dial` for a phone to answer costs the
   * worker no timer at all.
   */
  private enter<T>(call: Promise<T>): Promise<T> {
    if (this.callsInFlight++ === 0 && !this.cpuWatchdog) {
      this.cpuWatchdog = setInterval(() => this.checkCpu(), this.run.limits.cpuCheckIntervalMs);
    }
    const leave = (): void => {
      if (--this.callsInFlight > 0) return;
      clearInterval(this.cpuWatchdog);
      this.cpuWatchdog = undefined;
      this.checkCpu();
      if (this.draining) queueMicrotask(() => this.returnIsolate());
    };
    call.then(leave, () => {
      this.callFailed = true;
      leave();
    });
    return call;
  }

  /**
   * A call into the isolate made on this thread. Its `timeout` (the rest of the CPU budget) is
   * what stops a loop inside it: the CPU watchdog cannot run while this thread is in the call,
   * and is not needed after it (no code of a run executes outside a call into the isolate).
   */
  private enterSync<T>(call: () => T): T {
    const isolate = this.isolate;
    const before = isolate?.cpuTime ?? 0n;
    const disposedBefore = isolate?.isDisposed ?? true;
    let threw = false;
    this.callsInFlight++;
    try {
      return call();
    } catch (error) {
      this.callFailed = true;
      // A call that throws timed out (or lost its isolate): it held this thread for the rest of
      // the budget, though much of that may have been host time the isolate's CPU does not book.
      threw = true;
      throw error;
    } finally {
      this.callsInFlight--;
      // An isolate disposed inside the call hit its memory limit there: a segment that allocated
      // all of it held this thread long enough to count as long.
      if (isolate && !disposedBefore) {
        const cpuMs = threw || isolate.isDisposed ? Number.POSITIVE_INFINITY : Number(isolate.cpuTime - before) / 1e6;
        this.segments?.recordSync(this.run.tenantId, cpuMs);
      }
      this.sync &&= this.segments?.syncFor(this.run.tenantId) ?? false;
      if (this.callsInFlight === 0) {
        this.checkCpu();
        if (this.draining) queueMicrotask(() => this.returnIsolate());
      }
    }
  }

  /** Releases everything of this execution's context and hands the isolate back for reuse. */
  private returnIsolate(): void {
    if (!this.draining || this.callsInFlight > 0) return;
    this.draining = false;
    if (this.callFailed || this.cpuMsUsed() > this.run.limits.cpuMs) {
      this.dispose();
      return;
    }
    this.stopTimers();
    // The next run's `begin` puts the global back before any user code runs, or answers that it
    // cannot and the run moves to another isolate.
    this.sandbox?.detach();
    this.sandbox = undefined;
    const lease = this.lease;
    this.lease = undefined;
    if (lease) this.isolates.release(lease, true);
    this.report();
  }

  private dispose(): void {
    this.draining = false;
    this.stopTimers();
    const isolate = this.isolate;
    if (isolate && !isolate.isDisposed) this.disposedByUs = true;
    this.sandbox?.detach();
    this.sandbox = undefined;
    const lease = this.lease;
    this.lease = undefined;
    if (lease) this.isolates.release(lease, false);
    this.report();
  }

  private stopTimers(): void {
    clearInterval(this.cpuWatchdog);
    clearTimeout(this.wallTimer);
    clearTimeout(this.absoluteTimer);
  }
}

/** Waiting for a phone to ring and answer is not script time: Dial and Callback pause the wall clock. */
function pausesWallClock(name: SysFunctionName): boolean {
  return name === 'Dial' || name === 'Callback';
}
