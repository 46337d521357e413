import { createRequire } from 'node:module';

/**
 * The slice of the isolated-vm API the worker uses, typed locally so that the sandbox
 * typechecks on either runtime (only one of the two aliased packages is installed).
 */
export interface IvmReference {
  apply(
    thisArg: undefined,
    args: unknown[],
    options?: { timeout?: number; result?: { promise?: boolean; copy?: boolean; reference?: boolean } },
  ): Promise<unknown>;
  /** Runs on the calling thread; `timeout` (ms of wall clock) terminates it, as for apply. */
  applySync(thisArg: undefined, args: unknown[], options?: { timeout?: number }): unknown;
  get(property: string, options: { reference: true }): Promise<IvmReference>;
  derefInto(): unknown;
  release(): void;
}

export interface IvmContext {
  evalClosure(code: string, args: unknown[], options: { result: { reference: true } }): Promise<IvmReference>;
  release(): void;
}

export interface IvmScript {
  run(context: IvmContext, options: { timeout?: number; reference: true }): Promise<IvmReference>;
  release(): void;
  /** Set by compileScript with `produceCachedData`. */
  readonly cachedData?: IvmExternalCopy;
  readonly cachedDataRejected?: boolean;
}

export interface IvmExternalCopy {
  copyInto(options: { release: boolean }): unknown;
}

export interface IvmIsolate {
  readonly cpuTime: bigint;
  readonly isDisposed: boolean;
  createContext(): Promise<IvmContext>;
  compileScript(
    code: string,
    options: { filename: string; produceCachedData?: boolean; cachedData?: IvmExternalCopy },
  ): Promise<IvmScript>;
  dispose(): void;
}

export interface IvmModule {
  Isolate: new (options: { memoryLimit: number; onCatastrophicError?: (message: string) => void }) => IvmIsolate;
  Callback: new (fn: (...args: unknown[]) => unknown, options?: { async?: true; ignored?: true; sync?: true }) => object;
  ExternalCopy: new (value: unknown) => IvmExternalCopy;
}

const PACKAGE_BY_ABI: Record<string, string> = {
  '115': 'isolated-vm-node20',
  '137': 'isolated-vm-node24',
};

/** Loads the isolated-vm build that matches this Node ABI, else whichever one loads. */
export function loadIsolatedVm(): { ivm: IvmModule; packageName: string } {
  const require = createRequire(import.meta.url);
  const preferred = PACKAGE_BY_ABI[process.versions.modules];
  const candidates = [...(preferred ? [preferred] : []), 'isolated-vm-node24', 'isolated-vm-node20', 'isolated-vm'];
  const failures: string[] = [];
  for (const packageName of new Set(candidates)) {
    try {
      return { ivm: require(packageName) as IvmModule, packageName };
    } catch (error) {
      failures.push(`${packageName}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  throw new Error(`no usable isolated-vm build for Node ABI ${process.versions.modules}: ${failures.join('; ')}`);
}
