import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { IsolatePoolOptions } from './isolate-pool.ts';
import { checkNodeSupport, nodeSupportPolicyFromEnv, type NodeSupportVerdict } from './node-support.ts';
import {
  DEFAULT_SANDBOX_LIMITS,
  isSysFunctionName,
  type DialplanRun,
  type PlainValue,
  type RunDirection,
  type RunMessage,
  type RunResult,
  type RunUsage,
  type SandboxLimits,
  type SupervisorToWorkerMessage,
  type SysFunctionName,
  type WorkerToSupervisorMessage,
} from './protocol.ts';
import { IpcOutbox, unbatch } from './ipc-outbox.ts';
import { SysCallBudget } from './sys-call-budget.ts';
import { prepareWorkerLaunch, type WorkerLaunch } from './worker-launch.ts';

/**
 * Implemented by the calls layer: performs one `sys.*` call of a running dialplan.
 * Resolve with a JSON-serialisable value; a rejection (or throw) reaches the dialplan as
 * a plain Error with the message only. `Log` is called fire-and-forget, in order with
 * the other calls; its result is ignored.
 */
export interface SandboxHost {
  call(name: SysFunctionName, args: unknown[]): Promise<unknown>;
  /** Told once, before the run's result, what the run cost (when the worker reported it). */
  usage?(usage: RunUsage): void;
}

export interface DialplanRunParams extends DialplanRun {
  limits?: Partial<SandboxLimits>;
  /** The tenant budget this run counts against. Missing: outbound (what every run was before). */
  direction?: RunDirection;
  /**
   * For an inbound run, the address the call came from (e.g. "192.0.2.7"): at most
   * maxInboundPerSource inbound runs per address at once, across tenants. Leave it out for a
   * source that legitimately carries many calls (a provider's trunk).
   */
  source?: string;
}

export interface SandboxLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface SandboxSupervisorOptions {
  /** Defaults for every run; a run's own `limits` override these. */
  limits?: Partial<SandboxLimits>;
  /**
   * Executions of one tenant at the same time, per direction (inbound and outbound each get this
   * many); the next gets 503 at once. Default 5.
   */
  maxConcurrentPerTenant?: number;
  /** Inbound executions at the same time from one source address. Default PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE or 2. */
  maxInboundPerSource?: number;
  /**
   * Admission control, across tenants: executions the worker has to run now — started and not
   * yet waiting for an answer of the calls layer (a Dial, a DB call, ...) nor ended. At this many
   * a new run gets 503 with `retryAfter` at once and `shedRetryAfter()` tells the calls layer to
   * refuse new calls before any work; executions waiting in a Dial do not count. Default
   * PATCHBAY_SANDBOX_MAX_QUEUED or 64.
   */
  maxQueued?: number;
  /** Retry-After (s) for what admission control refuses. Default PATCHBAY_SANDBOX_RETRY_AFTER or 2. */
  retryAfterSeconds?: number;
  /** Restart backoff after the child dies: starts at initialMs, doubles, capped at maxMs. */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** How long run() waits for a (re)starting child before answering 503. Default 5000. */
  readyTimeoutMs?: number;
  /**
   * Reuse of warm isolates in the worker, per tenant (never across tenants), one execution at a
   * time, in the isolate's one hardened context (isolate-setup.ts). `maxUsesPerIsolate: 1` gives
   * every execution a fresh isolate. Defaults: 1000 uses, idle per tenant
   * min(2 × maxConcurrentPerTenant, 32), 32 idle in all (up to 64 for 2 s after a busy moment),
   * 30 s, 1 spare made ahead, 2 made on demand at once (further runs wait for a release or one of
   * those).
   * (A tenant with more runs in flight than it may keep idle creates and disposes an isolate,
   * ~5 ms of worker CPU with the hardening, on many calls.)
   */
  isolatePool?: Partial<IsolatePoolOptions>;
  /** Worker entry; defaults to worker.ts/.js beside this file. */
  workerPath?: string;
  logger?: SandboxLogger;
  /** Unprivileged account for the worker when the switch runs as root. Default PATCHBAY_SANDBOX_USER or `nobody`. */
  user?: string;
  /**
   * Start the worker under Node's permission model. Default: only for a worker compiled to
   * JavaScript (the tsx-run TypeScript worker cannot run under it, see worker-launch.ts).
   */
  permissionModel?: boolean;
  /** Refuse dialplans on a Node whose V8 gets no security fixes. Default: NODE_ENV=production. */
  requireSupportedNode?: boolean;
  /** Run them anyway (logged). Default: PATCHBAY_ALLOW_UNSUPPORTED_NODE=1. */
  allowUnsupportedNode?: boolean;
  /** Node version to judge (tests); default process.version. */
  nodeVersion?: string;
}

interface ActiveExecution {
  tenantId: string;
  callId: string;
  host: SandboxHost;
  child: ChildProcess;
  /** The supervisor's own count of this execution's sys calls (the worker's may be lied about). */
  budget: SysCallBudget;
  resolve(result: RunResult): void;
  guard: NodeJS.Timeout;
  /** Its place in the admission queue. */
  slot: QueueSlot;
  /** Sys calls the calls layer has not answered yet; while any is open the execution waits. */
  openHostCalls: number;
}

/** An admitted run counts in the queue while `queued` (running in the worker, or about to). */
interface QueueSlot {
  queued: boolean;
  /** performance.now() when it last entered the queue. */
  queuedSince: number;
  /** Time spent in the queue so far (ms): the execution's cost to the worker, waits for sys calls excluded. */
  busyMs: number;
}

/** One finished execution, for the operator's metrics. */
export interface SandboxExecutionReport {
  /** Time it ran (or waited to run) in the worker, without the time it waited for sys calls (Dial…). */
  busySeconds: number;
  outcome: RunResult['status'];
}

interface ReadyWaiter {
  resolve(child: ChildProcess): void;
  reject(error: Error): void;
}

/** Grace beyond the absolute limit after which an unanswered execution is given up. */
const SUPERVISOR_GRACE_MS = 5_000;
/** A child that lived this long is considered healthy again (backoff resets). */
const HEALTHY_UPTIME_MS = 10_000;

const silentLogger: SandboxLogger = { info() {}, warn() {}, error() {} };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs dialplans in a supervised child process. If the child dies, every execution in it
 * fails with 503 and the child is restarted with backoff; nothing else is affected.
 */
export class SandboxSupervisor {
  /** Told about every finished execution (metrics); must be cheap and must not throw. */
  onExecution: ((report: SandboxExecutionReport) => void) | undefined;
  private readonly limits: SandboxLimits;
  private readonly maxConcurrentPerTenant: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly readyTimeoutMs: number;
  private readonly workerPath: string;
  private readonly logger: SandboxLogger;
  private readonly isolatePool: Partial<IsolatePoolOptions>;

  private readonly user: string;
  private readonly permissionModel: boolean;
  private readonly nodeSupport: NodeSupportVerdict;
  private nodeSupportLogged = false;

  private child: ChildProcess | undefined;
  private childLaunch: WorkerLaunch | undefined;
  private childReady = false;
  private childStartedAt = 0;
  private readyWaiters: ReadyWaiter[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private nextBackoffMs: number;
  private stopped = false;
  private nextExecId = 1;
  private readonly executions = new Map<number, ActiveExecution>();
  /** Running executions per `tenant\0direction`. */
  private readonly runningPerBudget = new Map<string, number>();
  private readonly runningPerSource = new Map<string, number>();
  private readonly maxInboundPerSource: number;
  private readonly maxQueued: number;
  private readonly retryAfterSeconds: number;
  private queuedCount = 0;
  /** What is written to each worker process, a batch per event-loop turn. */
  private readonly outboxes = new WeakMap<ChildProcess, IpcOutbox<SupervisorToWorkerMessage>>();
  private shedCount = 0;

  constructor(options: SandboxSupervisorOptions = {}) {
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
    this.maxConcurrentPerTenant = options.maxConcurrentPerTenant ?? 5;
    this.maxInboundPerSource = options.maxInboundPerSource ?? positiveIntegerFromEnv('PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE', 2);
    this.maxQueued = options.maxQueued ?? positiveIntegerFromEnv('PATCHBAY_SANDBOX_MAX_QUEUED', 64);
    this.retryAfterSeconds = options.retryAfterSeconds ?? positiveIntegerFromEnv('PATCHBAY_SANDBOX_RETRY_AFTER', 2);
    this.backoff = options.restartBackoff ?? { initialMs: 100, maxMs: 10_000 };
    this.nextBackoffMs = this.backoff.initialMs;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 5_000;
    this.workerPath =
      options.workerPath ?? fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url));
    this.logger = options.logger ?? silentLogger;
    // Both directions of a tenant may run at once, so twice the per-direction budget stays warm.
    this.isolatePool = { maxIdlePerTenant: Math.min(2 * this.maxConcurrentPerTenant, 32), ...options.isolatePool };
    this.user = options.user ?? (process.env['PATCHBAY_SANDBOX_USER'] || 'nobody');
    this.permissionModel = options.permissionModel ?? !this.workerPath.endsWith('.ts');
    const envPolicy = nodeSupportPolicyFromEnv();
    this.nodeSupport = checkNodeSupport(options.nodeVersion ?? process.version, {
      requireSupportedNode: options.requireSupportedNode ?? envPolicy.requireSupportedNode,
      allowUnsupportedNode: options.allowUnsupportedNode ?? envPolicy.allowUnsupportedNode,
    });
  }

  /** False when this Node is refused for dialplans (see node-support.ts); run() then answers 503. */
  get dialplansEnabled(): boolean {
    return this.nodeSupport.kind !== 'refused';
  }

  private logNodeSupport(): void {
    if (this.nodeSupportLogged) return;
    this.nodeSupportLogged = true;
    if (this.nodeSupport.kind === 'refused') this.logger.error({ node: process.version }, `sandbox: ${this.nodeSupport.message}`);
    else if (this.nodeSupport.kind === 'tolerated') this.logger.warn({ node: process.version }, `sandbox: ${this.nodeSupport.message}`);
  }

  /** Starts the child process (run() also does so on demand) and waits until it is ready. */
  async start(): Promise<void> {
    this.stopped = false;
    this.logNodeSupport();
    if (!this.dialplansEnabled) return;
    await this.readyChild();
  }

  /** Stops the child; running executions fail with 503. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('sandbox stopped'));
    const child = this.child;
    if (child) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    this.cleanupLaunch();
  }

  private cleanupLaunch(): void {
    const launch = this.childLaunch;
    this.childLaunch = undefined;
    try {
      launch?.cleanup();
    } catch (error) {
      this.logger.warn({ err: errorMessage(error) }, 'sandbox: cannot remove the worker directory');
    }
  }

  /** PID of the current child process, if one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Number of executions of a tenant currently running (in one direction, or both). */
  runningFor(tenantId: string, direction?: RunDirection): number {
    if (direction) return this.runningPerBudget.get(budgetKey(tenantId, direction)) ?? 0;
    return this.runningFor(tenantId, 'in') + this.runningFor(tenantId, 'out');
  }

  /** Inbound executions currently running for calls from `source`. */
  runningFromSource(source: string): number {
    return this.runningPerSource.get(source) ?? 0;
  }

  /** Executions the worker has to run now (admission control counts these). */
  get queued(): number {
    return this.queuedCount;
  }

  /** Runs refused by admission control since start. */
  get shed(): number {
    return this.shedCount;
  }

  /**
   * For the calls layer, before it does any work for a new out-of-dialog call: the Retry-After
   * (s) to answer 503 with while the sandbox is saturated, else undefined.
   */
  shedRetryAfter(): number | undefined {
    return this.queuedCount >= this.maxQueued ? this.retryAfterSeconds : undefined;
  }

  private setQueued(slot: QueueSlot, queued: boolean): void {
    if (slot.queued === queued) return;
    slot.queued = queued;
    this.queuedCount += queued ? 1 : -1;
    if (queued) slot.queuedSince = performance.now();
    else slot.busyMs += performance.now() - slot.queuedSince;
  }

  async run(params: DialplanRunParams, host: SandboxHost): Promise<RunResult> {
    if (this.nodeSupport.kind === 'refused') {
      this.logNodeSupport();
      return { status: 'failed', code: 503, reason: 'dialplans are disabled on this Node version' };
    }
    const direction = params.direction ?? 'out';
    if (direction !== 'in' && direction !== 'out') {
      this.logger.error({ tenantId: params.tenantId, callId: params.callId, direction: String(direction) }, 'sandbox: bad run request');
      return { status: 'failed', code: 500, reason: `invalid run request: direction must be "in" or "out", got ${JSON.stringify(direction)}` };
    }
    const source = direction === 'in' && typeof params.source === 'string' && params.source !== '' ? params.source : undefined;
    const budget = budgetKey(params.tenantId, direction);
    const log = { tenantId: params.tenantId, callId: params.callId, direction, ...(source && { source }) };
    if (this.runningFor(params.tenantId, direction) >= this.maxConcurrentPerTenant) {
      this.logger.warn(log, `too many concurrent ${direction === 'in' ? 'inbound' : 'outbound'} dialplans`);
      return { status: 'failed', code: 503, reason: `too many concurrent ${direction === 'in' ? 'inbound' : 'outbound'} dialplans` };
    }
    if (source !== undefined && this.runningFromSource(source) >= this.maxInboundPerSource) {
      this.logger.warn(log, 'too many concurrent inbound dialplans from one source');
      return { status: 'failed', code: 503, reason: 'too many concurrent inbound dialplans from this source' };
    }
    if (this.queuedCount >= this.maxQueued) {
      // No log line per refusal: under overload that would be one more cost per call.
      this.shedCount++;
      return { status: 'failed', code: 503, reason: 'sandbox overloaded', retryAfter: this.retryAfterSeconds };
    }
    const slot: QueueSlot = { queued: false, queuedSince: 0, busyMs: 0 };
    this.setQueued(slot, true);
    increment(this.runningPerBudget, budget, 1);
    if (source !== undefined) increment(this.runningPerSource, source, 1);
    try {
      return await this.execute(params, host, slot);
    } finally {
      this.setQueued(slot, false);
      increment(this.runningPerBudget, budget, -1);
      if (source !== undefined) increment(this.runningPerSource, source, -1);
    }
  }

  private async execute(params: DialplanRunParams, host: SandboxHost, slot: QueueSlot): Promise<RunResult> {
    let child: ChildProcess;
    try {
      child = await this.readyChild();
    } catch (error) {
      return { status: 'failed', code: 503, reason: `sandbox unavailable: ${errorMessage(error)}` };
    }
    const limits: SandboxLimits = { ...this.limits, ...params.limits };
    const execId = this.nextExecId++;
    const message: RunMessage = {
      type: 'run',
      execId,
      tenantId: params.tenantId,
      callId: params.callId,
      dialplanName: params.dialplanName,
      js: params.js,
      sourceMap: params.sourceMap,
      req: params.req,
      limits,
    };
    return new Promise<RunResult>((resolve) => {
      const guard = setTimeout(
        () => this.settleExecution(execId, { status: 'failed', code: 503, reason: 'sandbox did not answer' }),
        limits.absoluteMs + SUPERVISOR_GRACE_MS,
      );
      const budget = new SysCallBudget(limits);
      this.executions.set(execId, { tenantId: params.tenantId, callId: params.callId, host, child, budget, resolve, guard, slot, openHostCalls: 0 });
      if (!this.sendTo(child, message)) {
        this.settleExecution(execId, { status: 'failed', code: 503, reason: 'sandbox unavailable' });
      }
    });
  }

  private settleExecution(execId: number, result: RunResult): void {
    const execution = this.executions.get(execId);
    if (!execution) return;
    this.executions.delete(execId);
    clearTimeout(execution.guard);
    this.setQueued(execution.slot, false);
    if (result.status === 'completed') this.nextBackoffMs = this.backoff.initialMs;
    if (this.onExecution) {
      try {
        this.onExecution({ busySeconds: execution.slot.busyMs / 1000, outcome: result.status });
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'sandbox: execution observer threw');
      }
    }
    execution.resolve(result);
  }

  /** Queues `message` for `child` (written at the end of this event-loop turn); false if it is gone. */
  private sendTo(child: ChildProcess, message: SupervisorToWorkerMessage): boolean {
    if (!child.connected) return false;
    let outbox = this.outboxes.get(child);
    if (!outbox) {
      outbox = new IpcOutbox<SupervisorToWorkerMessage>((batch) => {
        if (!child.connected) return;
        try {
          child.send(batch);
        } catch (error) {
          // The child is going away: its exit settles every execution it had.
          this.logger.warn({ err: errorMessage(error) }, 'sandbox: cannot send to worker');
        }
      });
      this.outboxes.set(child, outbox);
    }
    outbox.push(message);
    return true;
  }

  private readyChild(): Promise<ChildProcess> {
    if (this.stopped) return Promise.reject(new Error('sandbox stopped'));
    if (this.child && this.childReady) return Promise.resolve(this.child);
    if (!this.child && !this.restartTimer && !this.spawnChild()) return Promise.reject(new Error('sandbox worker cannot start'));
    return new Promise<ChildProcess>((resolve, reject) => {
      const waiter: ReadyWaiter = {
        resolve: (child) => {
          clearTimeout(timer);
          resolve(child);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((other) => other !== waiter);
        reject(new Error('sandbox process not ready'));
      }, this.readyTimeoutMs);
      this.readyWaiters.push(waiter);
    });
  }

  /** False when the worker cannot even be launched (logged). */
  private spawnChild(): boolean {
    this.restartTimer = undefined;
    this.cleanupLaunch();
    let launch: WorkerLaunch;
    try {
      launch = prepareWorkerLaunch({ workerPath: this.workerPath, user: this.user, permissionModel: this.permissionModel });
    } catch (error) {
      this.logger.error({ err: errorMessage(error) }, 'sandbox: cannot prepare the worker process');
      for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('sandbox worker cannot start'));
      return false;
    }
    for (const warning of launch.warnings) this.logger.warn({ user: this.user }, `sandbox: ${warning}`);
    this.childLaunch = launch;
    const child = fork(this.workerPath, [JSON.stringify(this.isolatePool)], {
      execArgv: launch.execArgv,
      env: launch.env,
      cwd: launch.cwd,
      ...(launch.uid !== undefined && { uid: launch.uid }),
      ...(launch.gid !== undefined && { gid: launch.gid }),
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.logger.info(
      { uid: launch.uid ?? process.getuid?.(), cwd: launch.cwd, permissionModel: launch.execArgv.some((a) => a.includes('permission')) },
      'sandbox: worker started',
    );
    this.childReady = false;
    this.childStartedAt = Date.now();
    child.on('message', (message: unknown) => {
      for (const inner of unbatch<WorkerToSupervisorMessage>(message)) this.onWorkerMessage(child, inner);
    });
    child.on('error', (error) => this.logger.error({ err: errorMessage(error) }, 'sandbox: worker process error'));
    child.once('exit', (code, signal) => this.onChildExit(child, code, signal));
    return true;
  }

  private onChildExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.childReady = false;
    this.outboxes.get(child)?.clear();
    const reason = `sandbox process exited (${signal ?? `code ${code}`})`;
    for (const [execId, execution] of this.executions) {
      if (execution.child === child) this.settleExecution(execId, { status: 'failed', code: 503, reason });
    }
    if (this.stopped) return;
    if (Date.now() - this.childStartedAt >= HEALTHY_UPTIME_MS) this.nextBackoffMs = this.backoff.initialMs;
    const delay = this.nextBackoffMs;
    this.nextBackoffMs = Math.min(this.backoff.maxMs, this.nextBackoffMs * 2);
    this.logger.error({ code, signal, restartInMs: delay }, 'sandbox: worker process died');
    this.restartTimer = setTimeout(() => this.spawnChild(), delay);
  }

  private onWorkerMessage(child: ChildProcess, message: WorkerToSupervisorMessage): void {
    if (typeof message !== 'object' || message === null) return;
    switch (message.type) {
      case 'ready':
        if (this.child !== child) return;
        this.childReady = true;
        this.logger.info({ pid: child.pid, isolatedVm: message.isolatedVm }, 'sandbox: worker ready');
        for (const waiter of this.readyWaiters.splice(0)) waiter.resolve(child);
        return;
      case 'done': {
        const execution = this.executionOf(child, message);
        if (!execution) return;
        const cpuMs = message.usage?.cpuMs;
        if (typeof cpuMs === 'number' && Number.isFinite(cpuMs) && cpuMs >= 0) {
          try {
            execution.host.usage?.({ cpuMs });
          } catch {
            // informational only: a throwing listener must not keep the run from settling
          }
        }
        this.settleExecution(message.execId, fromWorker(message.result));
        return;
      }
      case 'sys-notify': {
        const execution = this.executionOf(child, message);
        if (!execution || message.name !== 'Log' || !Array.isArray(message.args)) return;
        if (!execution.budget.admitLog(String(message.args[0] ?? ''))) return;
        this.callHost(execution, 'Log', message.args).catch(() => undefined);
        return;
      }
      case 'sys-call': {
        const { execId, seq, name, args } = message;
        const execution = this.executionOf(child, message);
        if (!execution) return;
        const answer = (reply: { value?: PlainValue; error?: string }): void => {
          if (this.executions.get(execId) !== execution) return;
          this.sendTo(child, { type: 'sys-result', execId, seq, ...reply });
        };
        // While the calls layer works on a sys call the execution waits: it leaves the queue,
        // and is back in it (it has to run again) once the last open call is answered.
        const hostAnswer = (reply: { value?: PlainValue; error?: string }): void => {
          if (--execution.openHostCalls === 0 && this.executions.get(execId) === execution) this.setQueued(execution.slot, true);
          answer(reply);
        };
        if (!isSysFunctionName(name)) {
          answer({ error: `sys.${String(name)} is not a function` });
          return;
        }
        const refused = execution.budget.admit(name);
        if (refused !== undefined) {
          answer({ error: refused });
          return;
        }
        if (execution.openHostCalls++ === 0) this.setQueued(execution.slot, false);
        this.callHost(execution, name, Array.isArray(args) ? args : [])
          .finally(() => execution.budget.settled(name))
          .then((value) => ({ value: toPlainValue(value) }))
          .catch((error: unknown) => ({ error: errorMessage(error) }))
          .then(hostAnswer)
          .catch((error: unknown) => this.logger.error({ err: errorMessage(error) }, 'sandbox: cannot answer sys call'));
        return;
      }
    }
  }

  /**
   * The execution a worker message is about, if this child runs it for the tenant the message
   * names. A compromised worker could otherwise finish, or place calls for, another tenant's
   * execution; anything else is dropped and logged.
   */
  private executionOf(child: ChildProcess, message: { type: string; execId?: unknown; tenantId?: unknown }): ActiveExecution | undefined {
    const execution = typeof message.execId === 'number' ? this.executions.get(message.execId) : undefined;
    if (execution && execution.child === child && execution.tenantId === message.tenantId) return execution;
    // A late message of an execution already settled (timeout, abort) is expected; only a
    // message naming a live execution wrongly, or one never started, is suspicious.
    if (execution || typeof message.execId !== 'number' || message.execId >= this.nextExecId) {
      this.logger.warn(
        { type: String(message.type), execId: String(message.execId), tenantId: String(message.tenantId), pid: child.pid },
        'sandbox: dropped a worker message for an execution it does not run',
      );
    }
    return undefined;
  }

  /** Calls the host synchronously (keeps sys call order) and never lets it throw. */
  private callHost(execution: ActiveExecution, name: SysFunctionName, args: PlainValue[]): Promise<unknown> {
    try {
      return Promise.resolve(execution.host.call(name, args));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** A result as the worker may state it: a Retry-After is the supervisor's to give, never the worker's. */
function fromWorker(result: RunResult): RunResult {
  if (result.status !== 'failed' || result.retryAfter === undefined) return result;
  const { retryAfter: _dropped, ...rest } = result;
  return rest;
}

function budgetKey(tenantId: string, direction: RunDirection): string {
  return `${tenantId}\0${direction}`;
}

/** Counters that drop their key at zero, so a map of sources never grows with past callers. */
function increment(counts: Map<string, number>, key: string, by: 1 | -1): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

function positiveIntegerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** Host results cross two processes and an isolate boundary: keep only their JSON shape. */
function toPlainValue(value: unknown): PlainValue | undefined {
  if (value === undefined) return undefined;
  const json = JSON.stringify(value);
  return json === undefined ? undefined : (JSON.parse(json) as PlainValue);
}
