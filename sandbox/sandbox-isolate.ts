import type { IvmContext, IvmExternalCopy, IvmIsolate, IvmModule, IvmReference, IvmScript } from './isolated-vm-loader.ts';
import { ISOLATE_SETUP_FUNCTION } from './isolate-setup.ts';
import type { PoolableIsolate } from './isolate-pool.ts';

const SETUP_SCRIPT_FILE = 'patchbay-setup.js';
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
      const setupScript = await isolate.compileScript(
        ISOLATE_SETUP_FUNCTION,
        cache ? { filename: SETUP_SCRIPT_FILE, cachedData: cache } : { filename: SETUP_SCRIPT_FILE, produceCachedData: true },
      );
      if (!cache && setupScript.cachedData) setupCodeCache = setupScript.cachedData;
      return new SandboxIsolate(isolate, setupScript);
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

  /** The setup function, instantiated in `context` (a Reference the caller releases). */
  setupIn(context: IvmContext): Promise<IvmReference> {
    return this.setupScript.run(context, { reference: true });
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
