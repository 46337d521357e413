import type { IvmContext, IvmExternalCopy, IvmIsolate, IvmModule, IvmReference } from './isolated-vm-loader.ts';
import { BEGIN_STARTED, ISOLATE_SETUP_FUNCTION } from './isolate-setup.ts';
import type { PoolableIsolate } from './isolate-pool.ts';

const SETUP_SCRIPT_FILE = 'patchbay-setup.js';
/** CPU our own setup (hardening the context) may take; it is our code, so this only catches a broken isolate. */
const SETUP_TIMEOUT_MS = 2_000;

/** Receives the dispatches of the run it was attached for (seq, name, argsJson). */
export type DispatchListener = (seq: unknown, name: unknown, json: unknown) => void;

/** Compiled dialplans kept per isolate (a tenant runs few distinct dialplans). */
const MAX_CACHED_DIALPLANS = 4;

/**
 * V8 code cache of our own setup function, made once per worker process from our own source.
 * Never from anything a user supplied (DESIGN: no cachedData from a user).
 */
let setupCodeCache: IvmExternalCopy | undefined;

/**
 * An isolated-vm isolate of one tenant with its one hardened context (isolate-setup.ts), reused
 * by every execution the isolate serves, one at a time: the setup ran once, the intrinsics are
 * frozen, and each run starts from a global object put back as it was. The compiled dialplans are
 * evaluated once per context; their function objects are frozen.
 */
export class SandboxIsolate implements PoolableIsolate {
  /** js → the evaluated dialplan function in this context. */
  private readonly dialplans = new Map<string, Promise<IvmReference>>();
  /** The same, for those whose evaluation is done. */
  private readonly evaluated = new Map<string, IvmReference>();
  private listener: { runId: number; onDispatch: DispatchListener } | undefined;

  private constructor(
    readonly isolate: IvmIsolate,
    private readonly context: IvmContext,
    private readonly beginRef: IvmReference,
    private readonly settleRef: IvmReference,
  ) {}

  static async create(ivm: IvmModule, memoryMiB: number): Promise<SandboxIsolate> {
    const isolate = new ivm.Isolate({
      memoryLimit: memoryMiB,
      onCatastrophicError: (message) => {
        // V8 lost control of this isolate; the process cannot be trusted any more.
        process.stderr.write(`sandbox: catastrophic isolate error: ${message}\n`);
        process.abort();
      },
    });
    try {
      // All of it through isolated-vm's threads: an isolate is mostly made ahead (the pool's
      // spare) while this thread serves the runs in flight.
      const cache = setupCodeCache;
      const [setupScript, context] = await Promise.all([
        isolate.compileScript(
          ISOLATE_SETUP_FUNCTION,
          cache ? { filename: SETUP_SCRIPT_FILE, cachedData: cache } : { filename: SETUP_SCRIPT_FILE, produceCachedData: true },
        ),
        isolate.createContext(),
      ]);
      if (!cache && setupScript.cachedData) setupCodeCache = setupScript.cachedData;
      let created: SandboxIsolate | undefined;
      const route = (runId: unknown, seq: unknown, name: unknown, json: unknown): void => {
        // Nothing of the host may reach the isolate, not even an error of ours.
        try {
          created?.route(runId, seq, name, json);
        } catch (error) {
          process.stderr.write(`sandbox: dispatch failed: ${String(error)}\n`);
        }
      };
      // The dispatch answers nothing (answers come back through settle). Fire-and-forget for calls
      // made on an isolate thread, which so does not wait for this thread; inline for calls made on
      // this thread, where it runs at once, in order with the call's outcome (isolate-setup.ts).
      const dispatchQueued = new ivm.Callback(route, { ignored: true });
      const dispatchInline = new ivm.Callback(route);
      const setup = await setupScript.run(context, { reference: true, timeout: SETUP_TIMEOUT_MS });
      setupScript.release();
      // Hardening walks every intrinsic (a few ms): off this thread, like user code.
      const api = (await setup.apply(undefined, [dispatchQueued, dispatchInline], { timeout: SETUP_TIMEOUT_MS, result: { reference: true } })) as IvmReference;
      setup.release();
      const [begin, settle] = await Promise.all([api.get('begin', { reference: true }), api.get('settle', { reference: true })]);
      api.release();
      created = new SandboxIsolate(isolate, context, begin, settle);
      return created;
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  get isDisposed(): boolean {
    return this.isolate.isDisposed;
  }

  get cpuTime(): bigint {
    return this.isolate.cpuTime;
  }

  dispose(): void {
    this.listener = undefined;
    this.dialplans.clear();
    this.evaluated.clear();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  /** Routes this isolate's dispatches of run `runId` to `onDispatch`; any other run's are dropped. */
  attach(runId: number, onDispatch: DispatchListener): void {
    this.listener = { runId, onDispatch };
  }

  detach(): void {
    this.listener = undefined;
  }

  private route(runId: unknown, seq: unknown, name: unknown, json: unknown): void {
    const listener = this.listener;
    if (listener && listener.runId === runId) listener.onDispatch(seq, name, json);
  }

  /**
   * Starts a run: resets the global, gives the run its own `req` and `sys`, calls the dialplan.
   * Resolves true once the dialplan's synchronous part returned, false when the context kept
   * state it cannot drop (the isolate must then not serve anyone again).
   */
  async begin(runId: number, dataJson: string, dialplan: IvmReference, timeoutMs: number): Promise<boolean> {
    const outcome = await this.beginRef.apply(undefined, [runId, dataJson, dialplan.derefInto(), false], { timeout: timeoutMs });
    return outcome === BEGIN_STARTED;
  }

  /** begin on this thread (segment-mode.ts); throws what the call into the isolate threw. */
  beginSync(runId: number, dataJson: string, dialplan: IvmReference, timeoutMs: number): boolean {
    return this.beginRef.applySync(undefined, [runId, dataJson, dialplan.derefInto(), true], { timeout: timeoutMs }) === BEGIN_STARTED;
  }

  /** Answers sys call `seq` of run `runId` (the dialplan goes on from its await). */
  settle(runId: number, seq: number, json: string, timeoutMs: number): Promise<unknown> {
    return this.settleRef.apply(undefined, [runId, seq, json, false], { timeout: timeoutMs });
  }

  /** settle on this thread (segment-mode.ts). */
  settleSync(runId: number, seq: number, json: string, timeoutMs: number): void {
    this.settleRef.applySync(undefined, [runId, seq, json, true], { timeout: timeoutMs });
  }

  /**
   * The dialplan's function if this context evaluated it already: a warm run then makes no call
   * into the isolate (nor arms the CPU watchdog for one) before `begin`.
   */
  evaluatedDialplan(js: string): IvmReference | undefined {
    const reference = this.evaluated.get(js);
    if (reference !== undefined) {
      // Most recently used last, so the first key is the one to drop.
      const cached = this.dialplans.get(js);
      if (cached) {
        this.dialplans.delete(js);
        this.dialplans.set(js, cached);
      }
    }
    return reference;
  }

  /** The dialplan's function in this context; compiled and evaluated once per distinct source. */
  dialplanFunction(js: string, filename: string, timeoutMs: number): Promise<IvmReference> {
    const cached = this.dialplans.get(js);
    if (cached) {
      // Most recently used last, so the first key is the one to drop.
      this.dialplans.delete(js);
      this.dialplans.set(js, cached);
      return cached;
    }
    const evaluating = this.isolate.compileScript(js, { filename }).then(async (script) => {
      try {
        return await script.run(this.context, { reference: true, timeout: timeoutMs });
      } finally {
        script.release();
      }
    });
    // A dialplan that does not compile is not kept: its error is reported each time.
    evaluating.then(
      (reference) => {
        if (this.dialplans.get(js) === evaluating) this.evaluated.set(js, reference);
      },
      () => this.dialplans.delete(js),
    );
    this.dialplans.set(js, evaluating);
    if (this.dialplans.size > MAX_CACHED_DIALPLANS) {
      const oldest = this.dialplans.keys().next().value;
      if (oldest !== undefined) {
        const dropped = this.dialplans.get(oldest);
        this.dialplans.delete(oldest);
        this.evaluated.delete(oldest);
        dropped?.then((reference) => releaseQuietly(reference), () => undefined);
      }
    }
    return evaluating;
  }
}

function releaseQuietly(reference: { release(): void }): void {
  try {
    reference.release();
  } catch {
    // the isolate is gone already
  }
}
