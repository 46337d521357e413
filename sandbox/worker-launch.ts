import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * How the sandbox worker process is started. It is a privilege boundary (DESIGN.md "Sandbox
 * runtime and limits"): a dialplan that escapes V8 must find no secret key, no database URL and
 * no HA1 in its environment, its working directory or files its user may read.
 */
export interface WorkerLaunchOptions {
  workerPath: string;
  /** Account the worker runs as when the switch runs as root. */
  user: string;
  /** Node's permission model (fs reads limited to the code, no writes, no child processes); JS workers only. */
  permissionModel: boolean;
}

export interface WorkerLaunch {
  execArgv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  uid?: number;
  gid?: number;
  /** Things the operator should hear about once (the user could not be used, ...). */
  warnings: string[];
  /** Removes the per-process working directory. */
  cleanup(): void;
}

export interface SandboxUser {
  name: string;
  uid: number;
  gid: number;
}

/** `id -u`/`id -g` rather than parsing /etc/passwd, so NSS users (LDAP, systemd DynamicUser) work. */
export function resolveSandboxUser(name: string): SandboxUser {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/.test(name)) throw new Error(`PATCHBAY_SANDBOX_USER: not a user name: "${name}"`);
  const read = (flag: '-u' | '-g'): number => {
    let out: string;
    try {
      out = execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
    } catch {
      throw new Error(`PATCHBAY_SANDBOX_USER: no such user "${name}"`);
    }
    const id = Number(out.trim());
    if (!Number.isInteger(id) || id < 0) throw new Error(`PATCHBAY_SANDBOX_USER: id ${flag} ${name} said "${out.trim()}"`);
    return id;
  };
  const user = { name, uid: read('-u'), gid: read('-g') };
  if (user.uid === 0) throw new Error(`PATCHBAY_SANDBOX_USER: "${name}" is root; the sandbox needs an unprivileged user`);
  return user;
}

/** The flag name changed when the permission model left "experimental" (Node 22.13 / 23.5). */
export function permissionFlag(): string | undefined {
  const flags = process.allowedNodeEnvironmentFlags;
  if (flags.has('--permission')) return '--permission';
  if (flags.has('--experimental-permission')) return '--experimental-permission';
  return undefined;
}

/** The nearest folder above `file` with a package.json: the code the worker loads lives below it. */
function projectRootOf(file: string): string {
  let dir = path.dirname(file);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.dirname(file);
    dir = parent;
  }
}

/**
 * Folders the worker must read: its own code, and (through symlinks, which the permission model
 * checks by real path) the packages it loads.
 */
function readableRoots(workerPath: string, tsxLoader: string | undefined): string[] {
  const root = projectRootOf(workerPath);
  const require = createRequire(workerPath);
  const roots = new Set<string>([realpathSync(root)]);
  const nodeModules = path.join(root, 'node_modules');
  if (existsSync(nodeModules)) roots.add(realpathSync(nodeModules));
  for (const name of ['isolated-vm-node20', 'isolated-vm-node24', 'isolated-vm']) {
    try {
      roots.add(projectRootOf(realpathSync(require.resolve(name))));
    } catch {
      // not installed for this runtime
    }
  }
  if (tsxLoader) roots.add(projectRootOf(realpathSync(tsxLoader)));
  return [...roots];
}

/**
 * Whether `user` can read everything the worker loads. Checked by a throw-away process running as
 * that user, because access(2) from root answers for root.
 */
function readableBy(user: SandboxUser, files: string[]): boolean {
  try {
    execFileSync(
      process.execPath,
      ['-e', 'for (const f of process.argv.slice(1)) require("fs").accessSync(f, require("fs").constants.R_OK)', ...files],
      { uid: user.uid, gid: user.gid, env: {}, cwd: '/', stdio: 'ignore', timeout: 10_000 },
    );
    return true;
  } catch {
    return false;
  }
}

const userCheckCache = new Map<string, { user?: SandboxUser; warning?: string }>();

function unprivilegedUser(name: string, mustRead: string[]): { user?: SandboxUser; warning?: string } {
  const cacheKey = `${name}\0${mustRead.join('\0')}`;
  const cached = userCheckCache.get(cacheKey);
  if (cached) return cached;
  let result: { user?: SandboxUser; warning?: string };
  try {
    const user = resolveSandboxUser(name);
    result = readableBy(user, mustRead)
      ? { user }
      : { warning: `sandbox worker runs as root: user "${name}" cannot read ${mustRead.join(', ')} (make the install world-readable or choose PATCHBAY_SANDBOX_USER)` };
  } catch (error) {
    result = { warning: `sandbox worker runs as root: ${error instanceof Error ? error.message : String(error)}` };
  }
  userCheckCache.set(cacheKey, result);
  return result;
}

/** Files node-gyp-build reads while it locates a native addon (see prepareWorkerLaunch). */
const NODE_GYP_BUILD_PROBES = ['/etc/alpine-release'];

export function prepareWorkerLaunch(options: WorkerLaunchOptions): WorkerLaunch {
  const warnings: string[] = [];
  const execArgv = ['--no-node-snapshot'];
  let tsxLoader: string | undefined;
  if (options.workerPath.endsWith('.ts')) {
    tsxLoader = createRequire(import.meta.url).resolve('tsx');
    execArgv.push('--import', pathToFileURL(tsxLoader).href);
  }
  const roots = readableRoots(options.workerPath, tsxLoader);

  if (options.permissionModel) {
    const flag = permissionFlag();
    if (tsxLoader) {
      // Measured on Node 20.20: tsx compiles each module by spawning esbuild and writes a cache
      // under the temp dir, so the model would have to grant child processes and fs writes,
      // which is no sandbox at all. Only a worker compiled to JavaScript can run under it.
      warnings.push('the permission model needs a worker compiled to JavaScript; the TypeScript worker runs without it');
    } else if (!flag) {
      warnings.push(`Node ${process.version} has no permission model; the sandbox worker runs without it`);
    } else {
      // isolated-vm is an addon, refused unless allowed; native code is outside the model, so
      // it stops JavaScript from reaching fs/child_process/workers, not a full V8 escape (the
      // empty environment, empty cwd and unprivileged user are the wall for that).
      // isolated-vm 6 loads through node-gyp-build, which probes /etc/alpine-release to pick a
      // prebuilt binary; under the model that probe throws instead of answering false (measured on
      // Node 24.22), so the worker may read that one (on Debian absent) file.
      execArgv.push(flag, '--allow-addons', ...[...roots, ...NODE_GYP_BUILD_PROBES].map((root) => `--allow-fs-read=${root}`));
      if (process.allowedNodeEnvironmentFlags.has('--disable-warning')) {
        execArgv.push('--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning');
      }
    }
  }

  let user: SandboxUser | undefined;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    const checked = unprivilegedUser(options.user, [options.workerPath, ...roots]);
    user = checked.user;
    if (checked.warning) warnings.push(checked.warning);
  }

  const cwd = mkdtempSync(path.join(tmpdir(), 'patchbay-sandbox-'));
  if (user) chownSync(cwd, user.uid, user.gid);
  return {
    execArgv,
    // Not even PATH, HOME or NODE_OPTIONS: fork adds the IPC channel variables itself. tsx would
    // otherwise keep compiled modules in /tmp/tsx-<uid>, writable by the worker's user: a dialplan
    // that escaped once could plant code there that every later worker loads.
    env: tsxLoader ? { TSX_DISABLE_CACHE: '1' } : {},
    cwd,
    ...(user && { uid: user.uid, gid: user.gid }),
    warnings,
    cleanup: () => rmSync(cwd, { recursive: true, force: true }),
  };
}
