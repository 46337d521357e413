import type { IvmIsolate, IvmModule, IvmReference } from './isolated-vm-loader.ts';
import { DONE_NAME, ERROR_NAME, ISOLATE_SETUP_SCRIPT, NOTIFY_SEQ } from './isolate-setup.ts';
import { isSysFunctionName, type PlainValue, type RunMessage, type RunResult, type SysFunctionName } from './protocol.ts';
import { SourceMapIndex } from './source-map.ts';
import { unwrapPosition } from './compile.ts';

/** File name of the user's JS inside the isolate; stack frames are found by it. */
const DIALPLAN_SCRIPT_FILE = 'dialplan.js';
const STACK_POSITION = /dialplan\.js:(\d+):(\d+)/;

export interface ExecutionChannel {
  sysCall(seq: number, name: SysFunctionName, args: PlainValue[]): void;
  sysNotify(name: 'Log', args: PlainValue[]): void;
  finished(result: RunResult): void;
}

/**
 * One run of one dialplan in a fresh isolate, with its budgets: memory (isolate limit),
 * CPU (script timeouts plus an `isolate.cpuTime` watchdog, because code that runs after
 * an `await` is outside any timeout), wall clock (paused while a Dial is pending,
 * renewed when it settles) and an absolute deadline.
 */
export class DialplanExecution {
  private isolate: IvmIsolate | undefined;
  private settleRef: IvmReference | undefined;
  private done = false;
  private disposedByUs = false;
  private dialCount = 0;
  private callbackCount = 0;
  private pendingDials = 0;
  private readonly pendingNames = new Map<number, SysFunctionName>();
  private cpuWatchdog: NodeJS.Timeout | undefined;
  private wallTimer: NodeJS.Timeout | undefined;
  private absoluteTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ivm: IvmModule,
    private readonly run: RunMessage,
    private readonly channel: ExecutionChannel,
  ) {}

  async start(): Promise<void> {
    const { limits } = this.run;
    try {
      const isolate = new this.ivm.Isolate({
        memoryLimit: limits.memoryMiB,
        onCatastrophicError: (message) => {
          // V8 lost control of this isolate; the process cannot be trusted any more.
          process.stderr.write(`sandbox: catastrophic isolate error: ${message}\n`);
          process.abort();
        },
      });
      this.isolate = isolate;
      this.cpuWatchdog = setInterval(() => this.checkCpu(), limits.cpuCheckIntervalMs);
      this.absoluteTimer = setTimeout(() => this.fail('absolute time limit exceeded'), limits.absoluteMs);
      this.armWallClock();

      const context = await isolate.createContext();
      const dispatch = new this.ivm.Callback((seq, name, json) => this.onDispatch(seq, name, json));
      const info = { dialPlanName: this.run.dialplanName, username: this.run.req.account?.username ?? '', direction: this.run.req.direction };
      const api = await context.evalClosure(
        ISOLATE_SETUP_SCRIPT,
        [dispatch, new this.ivm.ExternalCopy(this.run.req).copyInto({ release: true }), new this.ivm.ExternalCopy(info).copyInto({ release: true })],
        { result: { reference: true } },
      );
      this.settleRef = await api.get('settle', { reference: true });
      const startRef = await api.get('start', { reference: true });
      if (this.done) return;
      const script = await isolate.compileScript(this.run.js, { filename: DIALPLAN_SCRIPT_FILE });
      const dialplan = await script.run(context, { reference: true, timeout: this.remainingCpuMs() });
      await startRef.apply(undefined, [dialplan.derefInto()], { timeout: this.remainingCpuMs() });
    } catch (error) {
      this.failFromError(error);
    }
  }

  /** The answer of the calls layer to a sys call of this execution. */
  settle(seq: number, reply: { value?: PlainValue; error?: string }): void {
    const name = this.pendingNames.get(seq);
    if (name === undefined || this.done || !this.settleRef) return;
    this.pendingNames.delete(seq);
    if (pausesWallClock(name)) {
      this.pendingDials--;
      this.armWallClock();
    }
    this.answer(seq, reply);
  }

  private answer(seq: number, reply: { value?: PlainValue; error?: string }): void {
    if (this.done || !this.settleRef) return;
    const json = JSON.stringify(reply.error !== undefined ? { error: reply.error } : { value: reply.value });
    this.settleRef.apply(undefined, [seq, json], { timeout: this.remainingCpuMs() }).catch((error: unknown) => this.failFromError(error));
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
      if (name === 'Log') this.channel.sysNotify('Log', args);
      return;
    }
    if (name === 'Dial' && ++this.dialCount > this.run.limits.maxDials) {
      this.reject(seq, `sys.Dial refused: a dialplan may call Dial at most ${this.run.limits.maxDials} times per call`);
      return;
    }
    if (name === 'Callback' && ++this.callbackCount > this.run.limits.maxCallbacks) {
      this.reject(seq, `sys.Callback refused: a dialplan may call Callback at most ${this.run.limits.maxCallbacks} times per call`);
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
    return Number(isolate.cpuTime) / 1e6;
  }

  private remainingCpuMs(): number {
    return Math.max(1, Math.ceil(this.run.limits.cpuMs - this.cpuMsUsed()));
  }

  private checkCpu(): void {
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
    clearInterval(this.cpuWatchdog);
    clearTimeout(this.wallTimer);
    clearTimeout(this.absoluteTimer);
    this.pendingNames.clear();
    const isolate = this.isolate;
    if (isolate && !isolate.isDisposed) {
      this.disposedByUs = true;
      try {
        isolate.dispose();
      } catch {
        // already being torn down by isolated-vm
      }
    }
    this.channel.finished(result);
  }
}

/** Waiting for a phone to ring and answer is not script time: Dial and Callback pause the wall clock. */
function pausesWallClock(name: SysFunctionName): boolean {
  return name === 'Dial' || name === 'Callback';
}
