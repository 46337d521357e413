import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, waitForExit } from './child-process-control.ts';
import { freePorts } from './free-port.ts';
import { ProcessOutput } from './process-output.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PATCHBAY_BIN = join(REPO_ROOT, 'bin', 'patchbay.js');

export interface PatchbayOptions {
  /** Database URL; default a fresh SQLite file in the data dir. */
  dbUrl?: string;
  /** Extra environment for the server and the CLI. */
  env?: Record<string, string>;
  logLevel?: string;
  /** Bound on start-up (until the health endpoint answers). Default 20 s. */
  startTimeoutMs?: number;
  /** Keep the data dir after stop (for post-mortem). Default false. */
  keepDataDir?: boolean;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PatchbayServer {
  pid: number;
  /** UDP SIP port. */
  sipPort: number;
  /** TCP SIP port. */
  tcpPort: number;
  httpPort: number;
  dbUrl: string;
  dataDir: string;
  /** Everything the server printed so far. */
  readonly output: string;
  waitForOutput(pattern: RegExp, timeoutMs: number, since?: number): Promise<RegExpMatchArray>;
  /** Runs `node bin/patchbay.js <args> --db <dbUrl>` against the same database. */
  cli(args: string[], timeoutMs?: number): Promise<CliResult>;
  /** Stops and starts the server again on the same ports, database and data dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the real server (`node bin/patchbay.js serve`) on free loopback ports and waits until it is healthy. */
export async function startPatchbay(options: PatchbayOptions = {}): Promise<PatchbayServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'patchbay-e2e-'));
  const [sipPort, tcpPort, httpPort] = await freePorts(3);
  const dbUrl = options.dbUrl ?? `sqlite:${join(dataDir, 'patchbay.db')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATCHBAY_DB: dbUrl,
    PATCHBAY_DATA_DIR: dataDir,
    PATCHBAY_SIP_LISTEN: `udp:127.0.0.1:${sipPort},tcp:127.0.0.1:${tcpPort}`,
    PATCHBAY_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    PATCHBAY_LOG_LEVEL: options.logLevel ?? 'warn',
    ...options.env,
  };
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  let child: ChildProcess | undefined;
  let output = new ProcessOutput();

  const launch = async (): Promise<void> => {
    output = new ProcessOutput();
    const started = spawn(process.execPath, [PATCHBAY_BIN, 'serve'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    output.attach(started.stdout);
    output.attach(started.stderr);
    started.once('exit', () => output.markClosed());
    await waitUntilHealthy(started, httpPort, startTimeoutMs, output);
  };

  const stopServer = async (): Promise<void> => {
    if (child) await stopChild(child, 5000);
  };

  try {
    await launch();
  } catch (err) {
    await stopServer();
    if (!options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    get pid() {
      return child?.pid ?? -1;
    },
    sipPort,
    tcpPort,
    httpPort,
    dbUrl,
    dataDir,
    get output() {
      return output.all;
    },
    waitForOutput: (pattern, timeoutMs, since = 0) => output.waitFor(pattern, timeoutMs, since),
    cli: (args, timeoutMs = 30_000) => runPatchbayCli([...args, '--db', dbUrl], env, timeoutMs),
    restart: async () => {
      await stopServer();
      await launch();
    },
    stop: async () => {
      await stopServer();
      if (!options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs the patchbay CLI once, bounded by `timeoutMs`. */
export async function runPatchbayCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<CliResult> {
  const child = spawn(process.execPath, [PATCHBAY_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => void stopChild(child, 2000), timeoutMs);
  const code = await waitForExit(child);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function waitUntilHealthy(child: ChildProcess, httpPort: number, timeoutMs: number, output: ProcessOutput): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`patchbay exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${output.all.slice(-4000)}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
  }
  throw new Error(`patchbay did not become healthy within ${timeoutMs} ms:\n${output.all.slice(-4000)}`);
}
