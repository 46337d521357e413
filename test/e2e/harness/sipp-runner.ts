import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stopChild, waitForExit } from './child-process-control.ts';

export interface SippOptions {
  /** A scenario XML path, or a built-in scenario name (`uac`, `uas`, `regexp`, ...). */
  scenario: string;
  /** `host:port` of the remote side; omit for a UAS that only listens. */
  target?: string;
  /** Extra sipp arguments (e.g. `['-m', '10', '-r', '50', '-inf', file]`). */
  args?: string[];
  /** Hard bound: sipp is stopped (SIGTERM, then SIGKILL) after this. Default 30 s. */
  timeoutMs?: number;
  /** Local SIP port (`-p`); default lets sipp pick one. */
  localPort?: number;
  /** Local IP (`-i`); default 127.0.0.1. */
  localIp?: string;
  /** Also record every response-time sample (`-trace_rtt`) in `result.responseTimesMs`. */
  traceResponseTimes?: boolean;
  /** Where sipp writes its trace files; default a temp dir removed afterwards. */
  workDir?: string;
  /** Called once sipp has been spawned (to learn its PID). */
  onSpawn?: (pid: number) => void;
}

export interface SippStats {
  created: number;
  successful: number;
  failed: number;
  /** Retransmissions counted by sipp over the whole run. */
  retransmissions: number;
  /** Seconds sipp ran, from its own clock. */
  elapsedSeconds: number;
}

export interface SippResult {
  /** sipp's exit code: 0 = every call succeeded, 1 = at least one failed, 97/99 = internal/fatal; -1 = killed (timeout). */
  code: number;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  stats: SippStats | undefined;
  /** Unexpected messages sipp logged (`-trace_err`). */
  errors: string;
  /** Response-time samples in ms (the `rtd` timers of the scenario), only with `traceResponseTimes`. */
  responseTimesMs: number[];
}

/** Runs one sipp instance in the foreground (never `-bg`), bounded by a timeout, and reads back its statistics. */
export async function runSipp(options: SippOptions): Promise<SippResult> {
  const ownsWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'patchbay-sipp-')));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const scenarioArgs = options.scenario.endsWith('.xml') ? ['-sf', resolve(options.scenario)] : ['-sn', options.scenario];
  const args = [
    ...(options.target ? [options.target] : []),
    ...scenarioArgs,
    '-i', options.localIp ?? '127.0.0.1',
    ...(options.localPort !== undefined ? ['-p', String(options.localPort)] : []),
    '-nostdin',
    '-trace_err', '-error_file', join(workDir, 'errors.log'),
    '-trace_stat', '-stf', join(workDir, 'stats.csv'), '-fd', '1',
    ...(options.traceResponseTimes ? ['-trace_rtt', '-rtt_freq', '1'] : []),
    // sipp's own global timeout ends the run cleanly (with statistics); our timer is the backstop.
    '-timeout', `${Math.max(1, Math.ceil(timeoutMs / 1000))}s`, '-timeout_error',
    ...(options.args ?? []),
  ];
  const child = spawn('sipp', args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    // sipp redraws its screen continuously; keep only the tail.
    stdout = (stdout + chunk).slice(-64 * 1024);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  let timedOut = false;
  const backstop = setTimeout(() => {
    timedOut = true;
    void stopChild(child, 2000);
  }, timeoutMs + 5000);
  const spawnError = new Promise<number>((resolveError) => child.once('error', (err) => {
    stderr += String(err);
    resolveError(127);
  }));
  const code = await Promise.race([waitForExit(child), spawnError]);
  clearTimeout(backstop);
  try {
    const stats = parseSippStats(await readFile(join(workDir, 'stats.csv'), 'utf8').catch(() => ''));
    const errors = await readFile(join(workDir, 'errors.log'), 'utf8').catch(() => '');
    const responseTimesMs = options.traceResponseTimes ? await readResponseTimes(workDir) : [];
    return { code, timedOut, stdout, stderr, stats, errors, responseTimesMs };
  } finally {
    if (ownsWorkDir) await rm(workDir, { recursive: true, force: true });
  }
}

/** Parses the last row of a `-trace_stat` CSV (semicolon separated, header in the first row). */
export function parseSippStats(csv: string): SippStats | undefined {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  if (lines.length < 2) return undefined;
  const header = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  const numberAt = (name: string): number => {
    const index = header.indexOf(name);
    return index < 0 ? 0 : Number(row[index]) || 0;
  };
  const elapsed = row[header.indexOf('ElapsedTime(C)')] ?? '';
  return {
    created: numberAt('TotalCallCreated'),
    successful: numberAt('SuccessfulCall(C)'),
    failed: numberAt('FailedCall(C)'),
    retransmissions: numberAt('Retransmissions(C)'),
    elapsedSeconds: parseSippDuration(elapsed),
  };
}

/** sipp durations look like `00:00:05` or `00:00:05:123000` (h:m:s[:µs]). */
function parseSippDuration(text: string): number {
  const parts = text.split(':').map(Number);
  if (parts.length < 3 || parts.some((part) => Number.isNaN(part))) return 0;
  return parts[0] * 3600 + parts[1] * 60 + parts[2] + (parts[3] ?? 0) / 1e6;
}

async function readResponseTimes(workDir: string): Promise<number[]> {
  const samples: number[] = [];
  for (const name of await readdir(workDir)) {
    if (!name.endsWith('_rtt.csv')) continue;
    for (const line of (await readFile(join(workDir, name), 'utf8')).split('\n')) {
      // Rows: Date_ms;response_time_ms;rtd_no
      const fields = line.split(';');
      const value = Number(fields[1]);
      if (fields.length >= 2 && fields[1] !== '' && Number.isFinite(value)) samples.push(value);
    }
  }
  return samples;
}
