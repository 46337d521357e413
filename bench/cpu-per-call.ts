/**
 * CPU time of the Patchbay server per call on the B2BUA-only path (an outside caller dials an
 * account with no dialplan, which rings its binding at a sipp UAS), at one fixed moderate rate.
 * On a shared machine the stepped `npm run bench` rate moves with the neighbours' load; the server's
 * own user+sys CPU per completed call does not, so A/B comparisons of commits use this.
 *
 * `node bin/run-ts.js bench/cpu-per-call.ts [checkout ...]`: each checkout (a worktree with
 * node_modules; default this one) is measured CPU_RUNS times, interleaved (the order rotates every
 * run). One measurement: a fresh server, CPU_WARM_SECONDS of calls at CPU_RATE not counted, then
 * CPU_SECONDS counted: /proc/<pid>/stat utime+stime (all threads, GC included) sampled when sipp
 * writes its per-second statistics row, divided by the calls completed between the two rows.
 * Knobs (env): CPU_RATE (200), CPU_SECONDS (15), CPU_WARM_SECONDS (5), CPU_RUNS (3),
 * CPU_ACCOUNTS (2000), BENCH_PROFILE_DIR (a CPU profile of each server, see cpu-profile-preload.mjs).
 * Every process started here is stopped by its PID; each sipp run is bounded by its own timeout.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, runSipp, type PatchbayServer, type PatchbayOptions } from '../test/e2e/harness/index.ts';
import { benchAccounts, writeSippAccounts } from './bench-accounts.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const RATE = Number(process.env.CPU_RATE ?? 200);
const SECONDS = Number(process.env.CPU_SECONDS ?? 15);
const WARM_SECONDS = Number(process.env.CPU_WARM_SECONDS ?? 5);
const RUNS = Number(process.env.CPU_RUNS ?? 3);
const ACCOUNTS = Number(process.env.CPU_ACCOUNTS ?? 2000);
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU in these ticks. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface Measurement {
  calls: number;
  failed: number;
  userMs: number;
  sysMs: number;
  /** The server's resident memory at the end of the counted window: what calls keep alive after they ended shows here. */
  rssKiB: number;
}

interface CheckoutModules {
  startPatchbay(options: PatchbayOptions): Promise<PatchbayServer>;
  writeTemplateDb(file: string, accounts: { username: string; password: string }[], outDialplan: string, log: (line: string) => void): Promise<string>;
  bindAccountsTo(dbUrl: string, uasAddress: string): Promise<void>;
}

const log = (line: string): void => void process.stdout.write(`${line}\n`);

/** utime and stime of a process in ms (fields 14 and 15 of /proc/<pid>/stat, after the parenthesised name). */
async function processCpuMs(pid: number): Promise<{ user: number; sys: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / CLOCK_TICKS, sys: (Number(fields[12]) * 1000) / CLOCK_TICKS };
}

/** Cumulative successful and failed calls of the last row sipp wrote to its -trace_stat file, with its elapsed second. */
async function sippProgress(statsFile: string): Promise<{ elapsed: number; successful: number; failed: number } | undefined> {
  const lines = (await readFile(statsFile, 'utf8').catch(() => '')).split('\n').filter((line) => line.trim() !== '');
  if (lines.length < 2) return undefined;
  const header = lines[0].split(';');
  const row = lines[lines.length - 1].split(';');
  const at = (name: string): number => Number(row[header.indexOf(name)]) || 0;
  const [h, m, s] = (row[header.indexOf('ElapsedTime(C)')] ?? '').split(':').map(Number);
  return { elapsed: h * 3600 + m * 60 + s, successful: at('SuccessfulCall(C)'), failed: at('FailedCall(C)') };
}

/**
 * The checkout's own provisioning and harness: its database schema and server start are its own
 * (an older commit may not know a newer migration).
 */
async function loadCheckout(checkout: string): Promise<CheckoutModules> {
  const load = (path: string) => import(pathToFileURL(join(checkout, path)).href);
  const harness = await load('test/e2e/harness/index.ts');
  const provisioning = await load('bench/patchbay-provisioning.ts');
  return { startPatchbay: harness.startPatchbay, writeTemplateDb: provisioning.writeTemplateDb, bindAccountsTo: provisioning.bindAccountsTo };
}

async function measureOnce(modules: CheckoutModules, templateDb: string, workDir: string, callers: string): Promise<Measurement> {
  const dir = await mkdtemp(join(workDir, 'run-'));
  const uasPort = await freePort();
  const uasAddress = `127.0.0.1:${uasPort}`;
  const dbFile = join(dir, 'patchbay.db');
  await copyFile(templateDb, dbFile);
  await modules.bindAccountsTo(`sqlite:${dbFile}`, uasAddress);
  const env: Record<string, string> = {
    PATCHBAY_SANDBOX_MAX_CONCURRENT: '10000', PATCHBAY_ALLOWED_LEG_NETWORKS: '127.0.0.0/8', PATCHBAY_RATE_LIMIT_PER_SOURCE: '0', PATCHBAY_MAX_CALLS: '1000000',
  };
  if (process.env.BENCH_PROFILE_DIR) env.NODE_OPTIONS = `--import=${join(BENCH_DIR, 'cpu-profile-preload.mjs')}`;
  const server = await modules.startPatchbay({ dbUrl: `sqlite:${dbFile}`, logLevel: 'warn', startTimeoutMs: 60_000, env });
  const totalSeconds = WARM_SECONDS + SECONDS;
  let uasPid: number | undefined;
  const uas = runSipp({
    scenario: join(BENCH_DIR, 'scenarios', 'uas-answer.xml'),
    localPort: uasPort,
    timeoutMs: (totalSeconds + 30) * 1000,
    args: ['-max_socket', '1'],
    onSpawn: (pid) => (uasPid = pid),
  });
  const sippDir = await mkdtemp(join(dir, 'uac-'));
  try {
    const uac = runSipp({
      scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'),
      target: `127.0.0.1:${server.sipPort}`,
      localPort: await freePort(),
      workDir: sippDir,
      timeoutMs: (totalSeconds + 20) * 1000,
      args: [
        '-inf', callers, '-r', String(RATE), '-rp', '1000', '-m', String(RATE * (totalSeconds + 2)),
        '-l', String(RATE * 4), '-d', '1000', '-recv_timeout', '5000', '-max_socket', '1',
      ],
    });
    let finished = false;
    void uac.finally(() => (finished = true));
    // The first statistics row at or past each mark, with the server's CPU read the moment it shows.
    const marks = [WARM_SECONDS, totalSeconds];
    const seen: { successful: number; failed: number; cpu: { user: number; sys: number } }[] = [];
    let lastElapsed = -1;
    while (!finished && seen.length < marks.length) {
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 20));
      const progress = await sippProgress(join(sippDir, 'stats.csv'));
      if (!progress || progress.elapsed === lastElapsed) continue;
      lastElapsed = progress.elapsed;
      if (progress.elapsed >= marks[seen.length]) seen.push({ ...progress, cpu: await processCpuMs(server.pid) });
    }
    const result = await uac;
    if (seen.length < marks.length) throw new Error(`sipp ended before ${totalSeconds} s (exit ${result.code}): ${result.errors.split('\n').slice(0, 3).join(' ')}`);
    const [from, to] = seen;
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0);
    return { calls: to.successful - from.successful, failed: to.failed - from.failed, userMs: to.cpu.user - from.cpu.user, sysMs: to.cpu.sys - from.cpu.sys, rssKiB };
  } finally {
    await server.stop();
    if (uasPid !== undefined) process.kill(uasPid, 'SIGTERM');
    await uas;
    await rm(dir, { recursive: true, force: true });
  }
}

const perCallUs = (m: Measurement): number => ((m.userMs + m.sysMs) * 1000) / Math.max(1, m.calls);

async function main(): Promise<number> {
  const checkouts = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : [fileURLToPath(new URL('..', import.meta.url))]).map((dir) => resolve(dir));
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-cpu-per-call-'));
  try {
    log(`cpu-per-call: B2BUA without a dialplan, ${RATE} calls/s, ${WARM_SECONDS} s warm + ${SECONDS} s counted, ${RUNS} runs per checkout, ${ACCOUNTS} accounts`);
    const accounts = benchAccounts(ACCOUNTS);
    const callers = join(workDir, 'outside-callers.csv');
    await writeSippAccounts(callers, accounts, { callerPrefix: 'ext' });
    const prepared: { checkout: string; modules: CheckoutModules; templateDb: string; results: Measurement[] }[] = [];
    for (const [index, checkout] of checkouts.entries()) {
      // Measure what production runs: the compiled build, brought up to date with the checkout's sources.
      execFileSync(process.execPath, [join(checkout, 'bin/build.mjs'), '--if-stale'], { stdio: 'inherit', cwd: checkout });
      const modules = await loadCheckout(checkout);
      const templateDb = await modules.writeTemplateDb(join(workDir, `template-${index}.db`), accounts, 'bench-out', log);
      prepared.push({ checkout, modules, templateDb, results: [] });
    }
    for (let run = 0; run < RUNS; run++) {
      // Rotate the order so that no checkout always runs first (a neighbour's load drifts over time).
      for (let i = 0; i < prepared.length; i++) {
        const entry = prepared[(run + i) % prepared.length];
        const m = await measureOnce(entry.modules, entry.templateDb, workDir, callers);
        entry.results.push(m);
        log(
          `  ${basename(entry.checkout)} run ${run + 1}: ${m.calls} calls, ${m.failed} failed, ${perCallUs(m).toFixed(0)} µs/call ` +
            `(user ${((m.userMs * 1000) / Math.max(1, m.calls)).toFixed(0)}, sys ${((m.sysMs * 1000) / Math.max(1, m.calls)).toFixed(0)}), RSS ${(m.rssKiB / 1024).toFixed(0)} MiB`,
        );
      }
    }
    log('\n== CPU µs per call (server process, user+sys) ==');
    for (const entry of prepared) {
      const values = entry.results.map(perCallUs);
      const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
      const failed = entry.results.reduce((sum, m) => sum + m.failed, 0);
      log(
        `  ${entry.checkout}: mean ${mean.toFixed(0)} µs/call, min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)} ` +
          `(${values.map((value) => value.toFixed(0)).join(', ')})${failed > 0 ? `, ${failed} failed calls` : ''}`,
      );
    }
    return 0;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
