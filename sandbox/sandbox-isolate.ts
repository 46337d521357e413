import type { IvmContext, IvmExternalCopy, IvmIsolate, IvmModule, IvmReference, IvmScript } from './isolated-vm-loader.ts';
import { ISOLATE_SETUP_FUNCTION } from './isolate-setup.ts';
import type { PoolableIsolate } from './isolate-pool.ts';

const SETUP_SCRIPT_FILE = 'patchbay-setup.js';

/**
 * The synchronous calls of isolated-vm used for our own setup code (not in the loader's slice).
 * They run on this thread instead of a round trip through isolated-vm's thread pool each (about
 * 60–80 µs per call, five calls per run); user code never runs through them, so it cannot block
 * the worker's event loop.
 */
interface SyncIsolate {
  createContextSync(): IvmContext;
  compileScriptSync(code: string, options: { filename: string; produceCachedData?: boolean; cachedData?: IvmExternalCopy }): IvmScript;
}
interface SyncScript {
  runSync(context: IvmContext, options: { reference: true }): IvmReference;
}
interface SyncReference {
  applySync(thisArg: undefined, args: unknown[], options: { result: { reference: true } }): IvmReference;
  getSync(property: string, options: { reference: true }): IvmReference;
}

/** A fresh context with `sys` and `req` set up, and the two entry points of the setup closure. */
export interface OpenedContext {
  readonly context: IvmContext;
  /** settle(seq, json): answers a pending sys call. */
  readonly settle: IvmReference;
  /** start(dialplanFunction): runs the dialplan and reports its end through dispatch. */
  readonly start: IvmReference;
}

/** What the setup closure gets besides the dispatch callback; copied into the context once. */
export interface SetupData {
  req: unknown;
  dialPlanName: string;
  username: string;
  direction: string;
  /** The log budget, enforced by the setup script before a line leaves the isolate. */
  logLimits: { lines: number; bytes: number; limitLine: string };
}

/** Compiled dialplans kept per isolate (a tenant runs few distinct dialplans). */
const MAX_CACHED_DIALPLANS = 4;

/**
 * V8 code cache of our own setup function, made once per worker process from our own source.
 * Never from anything a user supplied (DESIGN: no cachedData from a user).
 */
let setupCodeCache: IvmExternalCopy | undefined;

/**
 * An isolated-vm isolate plus what can be reused across the executions of one tenant inside it:
 * the compiled setup script and the compiled (not run) dialplans. A compiled script holds no
 * state; every execution runs them in its own fresh context.
 */
export class SandboxIsolate implements PoolableIsolate {
  private readonly dialplans = new Map<string, Promise<IvmScript>>();

  private constructor(
    private readonly ivm: IvmModule,
    readonly isolate: IvmIsolate,
    private readonly setupScript: IvmScript,
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
      const cache = setupCodeCache;
      const setupScript = (isolate as IvmIsolate & SyncIsolate).compileScriptSync(
        ISOLATE_SETUP_FUNCTION,
        cache ? { filename: SETUP_SCRIPT_FILE, cachedData: cache } : { filename: SETUP_SCRIPT_FILE, produceCachedData: true },
      );
      if (!cache && setupScript.cachedData) setupCodeCache = setupScript.cachedData;
      return new SandboxIsolate(ivm, isolate, setupScript);
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
    this.dialplans.clear();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  /**
   * A new context for one execution, set up with only our own code. The caller releases the
   * returned references and the context; on a throw nothing is left to release but the isolate
   * (whose execution then fails and disposes it).
   */
  openContext(dispatch: object, data: SetupData): OpenedContext {
    const context = (this.isolate as IvmIsolate & SyncIsolate).createContextSync();
    const made: IvmReference[] = [];
    try {
      const setup = (this.setupScript as IvmScript & SyncScript).runSync(context, { reference: true });
      made.push(setup);
      const api = (setup as IvmReference & SyncReference).applySync(
        undefined,
        [dispatch, new this.ivm.ExternalCopy(data).copyInto({ release: true })],
        { result: { reference: true } },
      );
      made.push(api);
      const settle = (api as IvmReference & SyncReference).getSync('settle', { reference: true });
      made.push(settle);
      const start = (api as IvmReference & SyncReference).getSync('start', { reference: true });
      setup.release();
      api.release();
      return { context, settle, start };
    } catch (error) {
      for (const reference of made) releaseQuietly(reference);
      releaseQuietly(context);
      throw error;
    }
  }

  /** The dialplan compiled in this isolate; compiled once per distinct source. */
  compileDialplan(js: string, filename: string): Promise<IvmScript> {
    const cached = this.dialplans.get(js);
    if (cached) {
      // Most recently used last, so the first key is the one to drop.
      this.dialplans.delete(js);
      this.dialplans.set(js, cached);
      return cached;
    }
    const compiling = this.isolate.compileScript(js, { filename });
    // A dialplan that does not compile is not kept: its error is reported each time.
    compiling.catch(() => this.dialplans.delete(js));
    this.dialplans.set(js, compiling);
    if (this.dialplans.size > MAX_CACHED_DIALPLANS) {
      const oldest = this.dialplans.keys().next().value;
      if (oldest !== undefined) this.dialplans.delete(oldest);
    }
    return compiling;
  }
}

function releaseQuietly(reference: { release(): void }): void {
  try {
    reference.release();
  } catch {
    // the isolate is gone already
  }
}
