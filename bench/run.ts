/**
 * `npm run bench`: registrations/s (REGISTER with digest, 10,000 distinct accounts) and calls/s
 * (sipp UAC -> server -> sipp UAS) for Patchbay and for Kamailio on the same machine, stepped until the
 * first step with a failure. Everything runs on loopback on free ports, is bounded in time, and
 * every process started here is stopped by its PID.
 *
 * Calls through Patchbay run the caller's outgoing dialplan (`sys.Dial` to the UAS) in the sandbox;
 * a second Patchbay run rings registered bindings with no dialplan (the B2BUA alone). Also: 10,000
 * concurrent bridged calls held through Patchbay (memory per call) and the sandbox's own cost per
 * dialplan execution. Memory is PSS of the whole process tree (Patchbay: server + sandbox worker).
 *
 * Knobs (env): BENCH_ACCOUNTS (10000), BENCH_RATES (1000,1500,2000,2500,3000,4000),
 * BENCH_CALL_RATES (100,200,300,400,500,600,800), then steps go on, each BENCH_STEP_FACTOR (1.25)
 * times the last, until the server fails or BENCH_RATE_CAP (40000) / BENCH_CALL_RATE_CAP (10000) is
 * passed; BENCH_STEP_SECONDS (5), BENCH_ONLY (kamailio|patchbay|calls|register|b2bua|dialplan|overload|held; calls = the calls
 * rows of both servers: plain, with a sip.trace subscriber, with /metrics scraped every second;
 * overload alone needs BENCH_OVERLOAD_CLEAN_RATE, the clean rate it offers twice of),
 * BENCH_HOLD_CALLS (10000; 0 skips), BENCH_HOLD_RATE (100 calls/s setting them up), BENCH_CALL_AUTH (cidr | digest: how Patchbay trusts callers),
 * BENCH_PROFILE_DIR (CPU profile of the Patchbay server; BENCH_PROFILE_SANDBOX=<s> adds the worker).
 * `--json` also writes the results to .bench-out/bench-<time>.json.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runSipp, startPatchbay, type PatchbayServer } from '../test/e2e/harness/index.ts';
import { BENCH_DOMAIN, benchAccounts, writeKamailioSubscribers, writeSippAccounts, type BenchAccount } from './bench-accounts.ts';
import { bindAccountsTo, writeTemplateDb } from './patchbay-provisioning.ts';
import { processTreePssKiB, startKamailio } from './kamailio-server.ts';
import { bestPassingStep, extendRates, percentiles, reachedCap, runSteppedLoad, type LoadStep } from './stepped-load.ts';
import { addBenchAdminToken } from './patchbay-provisioning.ts';
import { openTraceSubscriber } from './trace-subscriber.ts';
import { startMetricsScraper } from './metrics-scraper.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const numberList = (text: string | undefined, fallback: number[]): number[] =>
  text ? text.split(',').map(Number).filter((value) => value > 0) : fallback;
const ACCOUNT_COUNT = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
const CALL_AUTH = process.env.BENCH_CALL_AUTH === 'digest' ? 'digest' : 'cidr';
/** Past the listed steps, each next step is this many times the last (until failure or the cap). */
const STEP_FACTOR = Number(process.env.BENCH_STEP_FACTOR ?? 1.25);
const REGISTER_RATE_CAP = Number(process.env.BENCH_RATE_CAP ?? 40_000);
const CALL_RATE_CAP = Number(process.env.BENCH_CALL_RATE_CAP ?? 10_000);
const REGISTER_RATES = extendRates(numberList(process.env.BENCH_RATES, [1000, 1500, 2000, 2500, 3000, 4000]), STEP_FACTOR, REGISTER_RATE_CAP);
const CALL_RATES = extendRates(numberList(process.env.BENCH_CALL_RATES, [100, 200, 300, 400, 500, 600, 800]), STEP_FACTOR, CALL_RATE_CAP);
/**
 * With digest, every call dials one callee: sipp computes its digest answer over one fixed
 * `-auth_uri`, and Patchbay (rightly, RFC 2617 §3.2.2.5) refuses an answer whose uri names
 * another resource than the Request-URI.
 */
const DIGEST_CALLEE = 'b00001';
const CALLER_AUTH_ARGS = CALL_AUTH === 'digest' ? ['-auth_uri', `${DIGEST_CALLEE}@${BENCH_DOMAIN}`] : [];
/** The token of /metrics in the metrics row (a bench-only value). */
const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789';
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 5);
const ONLY = process.env.BENCH_ONLY;
const HOLD_CALLS = Number(process.env.BENCH_HOLD_CALLS ?? 10_000);
/** 100/s: faster, the shared 2-core machine starts refusing (503) before all 10,000 are up. */
const HOLD_RATE = Number(process.env.BENCH_HOLD_RATE ?? 100);
/** With BENCH_ONLY=overload: the clean rate to offer twice of (otherwise the calls row's). */
const OVERLOAD_CLEAN_RATE = Number(process.env.BENCH_OVERLOAD_CLEAN_RATE ?? 0);
const WRITE_JSON = process.argv.includes('--json');
/** The outgoing dialplan every bench account runs: INVITE -> sandbox -> sys.Dial -> the sipp UAS. */
const BENCH_DIALPLAN = 'bench-out';
const benchDialplanSource = (uasAddress: string): string =>
  `const r = await sys.Dial(\`sip:\${req.uri.user}@${uasAddress}\`);\nif (!r.answered) sys.Log(\`dial failed \${r.status}\`);\n`;

/** A running server the load is pointed at. */
interface BenchTarget {
  /** `host:port` for sipp. */
  address: string;
  /** Patchbay's HTTP port (event stream, /metrics). */
  httpPort?: number;
  memoryKiB(): Promise<number>;
  memoryLabel: string;
  stop(): Promise<void>;
}

type TargetStart = (workDir: string) => Promise<BenchTarget | { skipped: string }>;

type BenchName =
  | 'register' | 'calls' | 'calls, no dialplan' | 'calls + sip.trace watcher' | 'calls + /metrics 1/s'
  | 'held calls' | 'sandbox' | 'overload';

/** Something that runs beside the load of a calls row (a trace subscriber, a scraper); its summary becomes the row's note. */
interface LoadCompanion {
  stop(): Promise<string>;
}

interface BenchRow {
  server: string;
  bench: BenchName;
  skipped?: string;
  best?: LoadStep;
  /** Every planned step passed: `best` is the cap of the steps, not the server's maximum. */
  capped?: boolean;
  /** What ran beside the load and what it saw. */
  note?: string;
  /** Overload: calls completed per second (compared with Kamailio's clean call rate). */
  completedRate?: number;
  memoryKiB?: number;
  memoryLabel?: string;
  /** Rows that are not a stepped load (held calls, sandbox cost) carry their own cells. */
  cells?: { rate: string; achieved: string; p50: number; p99: number; memory: string };
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<number> {
  // Production runs the compiled build; bin/patchbay.js (which the harness starts) uses it when it
  // matches the sources, so bring it up to date first and measure what production runs.
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [join(REPO_ROOT, 'bin/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-bench-'));
  const rows: BenchRow[] = [];
  try {
    log(
      `bench: ${ACCOUNT_COUNT} accounts, register steps ${REGISTER_RATES.join('/')}/s, call steps ${CALL_RATES.join('/')}/s ` +
        `(each server runs until its first failing step; caps ${REGISTER_RATE_CAP}/s and ${CALL_RATE_CAP}/s), ${STEP_SECONDS} s each, calls auth ${CALL_AUTH}, ${cpus().length} CPUs`,
    );
    const accounts = benchAccounts(ACCOUNT_COUNT);
    const injectionFile = join(workDir, 'accounts.csv');
    await writeSippAccounts(injectionFile, accounts);
    let callInjectionFile = injectionFile;
    if (CALL_AUTH === 'digest') {
      callInjectionFile = join(workDir, 'digest-callers.csv');
      await writeSippAccounts(callInjectionFile, accounts, { callee: DIGEST_CALLEE });
    }

    const only = ONLY?.toLowerCase();
    // BENCH_ONLY=calls keeps the calls rows of both servers (plain, traced, scraped), =register the
    // REGISTER rows of both, =b2bua Patchbay's calls without a dialplan, =dialplan Patchbay's plain
    // calls row alone (each for profiles of one path).
    type Part = 'register' | 'calls' | 'b2bua' | 'other';
    const wants = (server: 'kamailio' | 'patchbay', part: Part = 'other'): boolean =>
      !only || only === server || only === part;
    if (only === 'overload') {
      rows.push(await measureOverload(OVERLOAD_CLEAN_RATE || undefined, workDir, callInjectionFile, accounts));
      printReport(rows);
      if (WRITE_JSON) await writeJson(rows);
      return 0;
    }
    if (wants('kamailio', 'register')) rows.push(await measureRegistrations('Kamailio', (dir) => startKamailioRegistrar(dir, accounts), workDir, injectionFile));
    if (wants('patchbay', 'register')) rows.push(await measureRegistrations('Patchbay', (dir) => startPatchbayRegistrar(dir, accounts), workDir, injectionFile));
    if (wants('kamailio', 'calls')) rows.push(await measureCalls('Kamailio', (dir, uas) => startKamailioCallTarget(dir, uas, accounts), workDir, callInjectionFile));
    if (only === 'dialplan') rows.push(await measureCalls('Patchbay', (dir, uas) => startPatchbayCallTarget(dir, uas, accounts), workDir, callInjectionFile));
    if (wants('patchbay', 'calls')) {
      const calls = await measureCalls('Patchbay', (dir, uas) => startPatchbayCallTarget(dir, uas, accounts), workDir, callInjectionFile);
      rows.push(calls);
      // The same calls with someone watching (issue 9: sip.trace; issue 13 item 7: /metrics), next to the plain row.
      let traceToken = '';
      rows.push(await measureCalls(
        'Patchbay',
        (dir, uas) => startPatchbayCallTarget(dir, uas, accounts, 'dialplan', { prepare: async (dbUrl) => void (traceToken = await addBenchAdminToken(dbUrl)) }),
        workDir,
        callInjectionFile,
        'calls + sip.trace watcher',
        async (target) => {
          const watcher = await openTraceSubscriber(target.httpPort!, traceToken);
          return {
            async stop() {
              const seen = await watcher.stop();
              return `one sip.trace subscriber: ${seen.traces} trace events read, ${seen.resyncs} resyncs${seen.closedCode !== undefined ? `, closed by the switch with ${seen.closedCode}` : ''}`;
            },
          };
        },
      ));
      rows.push(await measureCalls(
        'Patchbay',
        (dir, uas) => startPatchbayCallTarget(dir, uas, accounts, 'dialplan', { env: { PATCHBAY_METRICS_TOKEN: BENCH_METRICS_TOKEN } }),
        workDir,
        callInjectionFile,
        'calls + /metrics 1/s',
        async (target) => {
          const scraper = startMetricsScraper(target.httpPort!, BENCH_METRICS_TOKEN);
          return {
            async stop() {
              const s = await scraper.stop();
              return `GET /metrics every 1 s: ${s.scrapes} scrapes, ${s.failures} failed, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ${(s.bytes / 1024).toFixed(1)} KiB`;
            },
          };
        },
      ));
      if (wants('patchbay')) rows.push(await measureOverload(calls.best?.targetRate, workDir, callInjectionFile, accounts));
    }
    if (wants('patchbay', 'b2bua')) {
      const outsideCallers = join(workDir, 'outside-callers.csv');
      await writeSippAccounts(outsideCallers, accounts, { callerPrefix: 'ext' });
      rows.push(await measureCalls('Patchbay', (dir, uas) => startPatchbayCallTarget(dir, uas, accounts, 'bindings'), workDir, outsideCallers, 'calls, no dialplan'));
    }
    if ((wants('patchbay') || only === 'held') && HOLD_CALLS > 0) rows.push(await measureHeldCalls(workDir, callInjectionFile, accounts));
    if (wants('patchbay')) rows.push(await measureSandboxCost());
    printReport(rows);
    if (WRITE_JSON) await writeJson(rows);
    return 0;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function measureRegistrations(server: string, start: TargetStart, workDir: string, injectionFile: string): Promise<BenchRow> {
  log(`\n== ${server}: REGISTER with digest ==`);
  const dir = await mkdtemp(join(workDir, `${server.toLowerCase()}-reg-`));
  let target: BenchTarget | { skipped: string };
  try {
    target = await start(dir);
  } catch (err) {
    target = { skipped: `failed to start: ${String(err).split('\n')[0]}` };
  }
  if ('skipped' in target) {
    log(`  SKIPPED ${server} registrar: ${target.skipped}`);
    return { server, bench: 'register', skipped: target.skipped };
  }
  try {
    const steps = await runSteppedLoad(
      { scenario: join(BENCH_DIR, 'scenarios', 'register-digest.xml'), target: target.address, injectionFile, rates: REGISTER_RATES, stepSeconds: STEP_SECONDS },
      log,
    );
    return { server, bench: 'register', best: bestPassingStep(steps), capped: reachedCap(steps, REGISTER_RATES), memoryKiB: await target.memoryKiB(), memoryLabel: target.memoryLabel };
  } finally {
    await target.stop();
  }
}

async function measureCalls(
  server: string,
  start: (workDir: string, uasAddress: string) => Promise<BenchTarget | { skipped: string }>,
  workDir: string,
  injectionFile: string,
  bench: BenchName = 'calls',
  companion?: (target: BenchTarget) => Promise<LoadCompanion>,
): Promise<BenchRow> {
  log(`\n== ${server}: ${bench} (sipp UAC -> ${server} -> sipp UAS, 1 s hold) ==`);
  const dir = await mkdtemp(join(workDir, `${server.toLowerCase()}-calls-`));
  const uasPort = await freePort();
  const uasAddress = `127.0.0.1:${uasPort}`;
  let target: BenchTarget | { skipped: string };
  try {
    target = await start(dir, uasAddress);
  } catch (err) {
    target = { skipped: `failed to start: ${String(err).split('\n')[0]}` };
  }
  if ('skipped' in target) {
    log(`  SKIPPED ${server} ${bench}: ${target.skipped}`);
    return { server, bench, skipped: target.skipped };
  }
  // The answering side runs for the whole stepped run; it is bounded by its own timeout and stopped by PID.
  let uasPid: number | undefined;
  const uas = runSipp({
    scenario: join(BENCH_DIR, 'scenarios', 'uas-answer.xml'),
    localPort: uasPort,
    timeoutMs: (CALL_RATES.length * (STEP_SECONDS + 20) + 30) * 1000,
    args: ['-max_socket', '1'],
    onSpawn: (pid) => (uasPid = pid),
  });
  let beside: LoadCompanion | undefined;
  try {
    beside = companion ? await companion(target) : undefined;
    const steps = await runSteppedLoad(
      {
        scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'),
        target: target.address,
        injectionFile,
        rates: CALL_RATES,
        stepSeconds: STEP_SECONDS,
        holdSeconds: 1,
        extraArgs: ['-d', '1000', ...(bench === 'calls, no dialplan' ? [] : CALLER_AUTH_ARGS)],
      },
      log,
    );
    const memoryKiB = await target.memoryKiB();
    const note = beside ? await beside.stop() : undefined;
    beside = undefined;
    if (note) log(`  beside the load: ${note}`);
    return { server, bench, best: bestPassingStep(steps), capped: reachedCap(steps, CALL_RATES), note, memoryKiB, memoryLabel: target.memoryLabel };
  } finally {
    await beside?.stop().catch(() => '');
    await target.stop();
    if (uasPid !== undefined) process.kill(uasPid, 'SIGTERM');
    await uas;
  }
}

/**
 * No collapse past saturation (issue 13 item 3): calls through the dialplan offered at twice the
 * highest clean rate for one step. Admission control should keep completing ≥ 90 % of the clean
 * rate and answer the excess at once with 503 + Retry-After (uac-call-or-503.xml ACKs and logs
 * those); "failed" is everything else (timeouts, other errors).
 */
async function measureOverload(cleanRate: number | undefined, workDir: string, injectionFile: string, accounts: BenchAccount[]): Promise<BenchRow> {
  if (!cleanRate) return { server: 'Patchbay', bench: 'overload', skipped: 'no clean call rate to double' };
  const offered = cleanRate * 2;
  log(`\n== Patchbay: overload (calls through a dialplan offered at ${offered}/s = 2 x the clean ${cleanRate}/s, ${STEP_SECONDS} s) ==`);
  const dir = await mkdtemp(join(workDir, 'patchbay-overload-'));
  const uasPort = await freePort();
  const uasAddress = `127.0.0.1:${uasPort}`;
  let target: BenchTarget | { skipped: string };
  try {
    target = await startPatchbayCallTarget(dir, uasAddress, accounts);
  } catch (err) {
    target = { skipped: `failed to start: ${String(err).split('\n')[0]}` };
  }
  if ('skipped' in target) {
    log(`  SKIPPED overload: ${target.skipped}`);
    return { server: 'Patchbay', bench: 'overload', skipped: target.skipped };
  }
  const running = target;
  const calls = offered * STEP_SECONDS;
  let uasPid: number | undefined;
  const uas = runSipp({
    scenario: join(BENCH_DIR, 'scenarios', 'uas-answer.xml'),
    localPort: uasPort,
    timeoutMs: (STEP_SECONDS + 60) * 1000,
    args: ['-max_socket', '1'],
    onSpawn: (pid) => (uasPid = pid),
  });
  const sippDir = await mkdtemp(join(dir, 'sipp-'));
  try {
    // Warm the path (sandbox, JIT) at half the clean rate, unrecorded.
    await runSipp({
      scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'),
      target: running.address,
      localPort: await freePort(),
      timeoutMs: 20_000,
      args: ['-inf', injectionFile, '-r', String(Math.max(1, Math.floor(cleanRate / 2))), '-m', String(Math.max(1, cleanRate)), '-l', String(cleanRate * 2), '-d', '1000', '-max_socket', '1', ...CALLER_AUTH_ARGS],
    });
    const started = process.hrtime.bigint();
    const result = await runSipp({
      scenario: join(BENCH_DIR, 'scenarios', 'uac-call-or-503.xml'),
      target: running.address,
      localPort: await freePort(),
      traceResponseTimes: true,
      workDir: sippDir,
      timeoutMs: (STEP_SECONDS + 30) * 1000,
      args: ['-inf', injectionFile, '-r', String(offered), '-rp', '1000', '-m', String(calls), '-l', String(offered * 4), '-d', '1000', '-recv_timeout', '5000', '-max_socket', '1', '-trace_logs', ...CALLER_AUTH_ARGS],
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { readdir, readFile } = await import('node:fs/promises');
    let rejected = 0;
    for (const name of await readdir(sippDir)) {
      if (name.endsWith('_logs.log')) rejected += (await readFile(join(sippDir, name), 'utf8')).split('\n').filter((line) => line.includes('rejected 503')).length;
    }
    const successful = result.stats?.successful ?? 0;
    const failed = result.stats?.failed ?? 0;
    const completed = Math.max(0, successful - rejected);
    // Calls hold 1 s; the completion rate is over the time calls were being offered.
    const completedRate = completed / Math.max(seconds - 1, 1e-3);
    const share = (completedRate / cleanRate) * 100;
    const { p50, p99 } = percentiles(result.responseTimesMs);
    const memoryKiB = await running.memoryKiB();
    log(
      `  offered ${calls} (${offered}/s): ${completed} completed (${completedRate.toFixed(0)}/s, ${share.toFixed(0)} % of the clean rate), ` +
        `${rejected} rejected with 503, ${failed} failed, ${result.stats?.retransmissions ?? 0} retrans; answer p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; PSS ${(memoryKiB / 1024).toFixed(1)} MiB`,
    );
    return {
      server: 'Patchbay',
      bench: 'overload',
      completedRate,
      cells: {
        rate: `${offered} offered`,
        achieved: `${completedRate.toFixed(0)} done (${share.toFixed(0)} % of ${cleanRate}), ${rejected} x 503, ${failed} failed`,
        p50,
        p99,
        memory: `${(memoryKiB / 1024).toFixed(1)} (PSS)`,
      },
    };
  } finally {
    await running.stop();
    if (uasPid !== undefined) process.kill(uasPid, 'SIGTERM');
    await uas;
  }
}

async function startKamailioRegistrar(workDir: string, accounts: BenchAccount[]): Promise<BenchTarget> {
  await writeKamailioSubscribers(workDir, accounts);
  const port = await freePort();
  const kamailio = await startKamailio({
    template: join(BENCH_DIR, 'kamailio', 'registrar.cfg'),
    substitutions: { SIP_PORT: String(port), CHILDREN: String(Math.max(2, cpus().length)), DB_DIR: workDir },
    workDir,
  });
  return {
    address: `127.0.0.1:${port}`,
    memoryKiB: kamailio.memoryKiB,
    memoryLabel: 'PSS of all processes',
    stop: kamailio.stop,
  };
}

/**
 * Kamailio as a stateful proxy (tm + rr) for the calls rows; with BENCH_CALL_AUTH=digest it
 * challenges every initial INVITE with 407 and checks the answer against auth_db (db_text, HA1s),
 * as Patchbay then does, so both servers do the same work per call.
 */
async function startKamailioCallTarget(workDir: string, uasAddress: string, accounts: BenchAccount[]): Promise<BenchTarget> {
  const port = await freePort();
  if (CALL_AUTH === 'digest') await writeKamailioSubscribers(workDir, accounts);
  const kamailio = await startKamailio({
    template: join(BENCH_DIR, 'kamailio', 'proxy.cfg'),
    substitutions: {
      SIP_PORT: String(port), CHILDREN: String(Math.max(2, cpus().length)), UAS_ADDR: uasAddress, DB_DIR: workDir,
      DEFINES: CALL_AUTH === 'digest' ? '#!define WITH_AUTH' : '',
    },
    workDir,
  });
  return { address: `127.0.0.1:${port}`, memoryKiB: kamailio.memoryKiB, memoryLabel: 'PSS of all processes', stop: kamailio.stop };
}

/** The server needs its CLI entry and a registrar before a REGISTER bench means anything. */
function patchbayMissing(): string | undefined {
  for (const file of ['scripts/patchbay.ts', 'server/main.ts', 'server/registrar/index.ts', 'db/index.ts']) {
    if (!existsSync(join(REPO_ROOT, file))) return `${file} does not exist yet`;
  }
  return undefined;
}

async function startPatchbayRegistrar(workDir: string, accounts: BenchAccount[]): Promise<BenchTarget | { skipped: string }> {
  const missing = patchbayMissing();
  if (missing) return { skipped: missing };
  const dbUrl = `sqlite:${join(workDir, 'patchbay.db')}`;
  await provisionPatchbay(dbUrl, accounts);
  return patchbayTarget(await startPatchbay({ dbUrl, logLevel: 'warn', startTimeoutMs: 60_000, env: patchbayEnv() }));
}

/**
 * `dialplan`: the caller is a bench account whose outgoing dialplan runs in the sandbox and
 * `sys.Dial`s the UAS. `bindings`: an outside caller dials an account without an incoming
 * dialplan, which rings its binding at the UAS — the B2BUA alone, no sandbox.
 */
type CallRoute = 'dialplan' | 'bindings';

async function startPatchbayCallTarget(
  workDir: string,
  uasAddress: string,
  accounts: BenchAccount[],
  route: CallRoute = 'dialplan',
  extra: { env?: Record<string, string>; prepare?: (dbUrl: string) => Promise<void> } = {},
): Promise<BenchTarget | { skipped: string }> {
  const missing = patchbayMissing() ?? (existsSync(join(REPO_ROOT, 'server/calls/index.ts')) ? undefined : 'server/calls/index.ts does not exist yet');
  if (missing) return { skipped: missing };
  const dbUrl = `sqlite:${join(workDir, 'patchbay.db')}`;
  await provisionPatchbay(dbUrl, accounts, uasAddress, route);
  await extra.prepare?.(dbUrl);
  return patchbayTarget(await startPatchbay({ dbUrl, logLevel: 'warn', startTimeoutMs: 60_000, env: { ...patchbayEnv(), ...extra.env } }));
}

/**
 * 10,000 (BENCH_HOLD_CALLS) calls set up at BENCH_HOLD_RATE (100/s) and held until the last is up, all at once through Patchbay: RSS
 * with every call up minus RSS before, per call. Only counts when every call completed.
 */
async function measureHeldCalls(workDir: string, injectionFile: string, accounts: BenchAccount[]): Promise<BenchRow> {
  const calls = HOLD_CALLS;
  const rate = HOLD_RATE;
  const holdMs = Math.max(10_000, Math.ceil((calls / rate) * 1000) + 8_000);
  log(`\n== Patchbay: ${calls} concurrent calls held ${holdMs / 1000} s (set up at ${rate}/s) ==`);
  const dir = await mkdtemp(join(workDir, 'patchbay-held-'));
  const uasPort = await freePort();
  const uasAddress = `127.0.0.1:${uasPort}`;
  let target: BenchTarget | { skipped: string };
  try {
    target = await startPatchbayCallTarget(dir, uasAddress, accounts);
  } catch (err) {
    target = { skipped: `failed to start: ${String(err).split('\n')[0]}` };
  }
  if ('skipped' in target) {
    log(`  SKIPPED held calls: ${target.skipped}`);
    return { server: 'Patchbay', bench: 'held calls', skipped: target.skipped };
  }
  const running = target;
  const timeoutMs = holdMs + (calls / rate) * 1000 + 30_000;
  let uasPid: number | undefined;
  const uas = runSipp({
    scenario: join(BENCH_DIR, 'scenarios', 'uas-answer.xml'),
    localPort: uasPort,
    timeoutMs: timeoutMs + 10_000,
    args: ['-max_socket', '1'],
    onSpawn: (pid) => (uasPid = pid),
  });
  try {
    // Warm the path (sandbox, JIT) so the baseline is not the cold process.
    await runSipp({
      scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'),
      target: running.address,
      localPort: await freePort(),
      timeoutMs: 20_000,
      args: ['-inf', injectionFile, '-r', '100', '-m', '200', '-l', '400', '-d', '100', '-max_socket', '1', ...CALLER_AUTH_ARGS],
    });
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 1500));
    const baselineKiB = await running.memoryKiB();
    let peakKiB = 0;
    const fullAtMs = (calls / rate) * 1000 + 2000;
    const sampler = setTimeout(() => {
      void running.memoryKiB().then((kib) => (peakKiB = kib));
    }, fullAtMs);
    const started = Date.now();
    const result = await runSipp({
      scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'),
      target: running.address,
      localPort: await freePort(),
      traceResponseTimes: true,
      timeoutMs,
      args: ['-inf', injectionFile, '-r', String(rate), '-m', String(calls), '-l', String(calls), '-d', String(holdMs), '-recv_timeout', '10000', '-max_socket', '1', ...CALLER_AUTH_ARGS],
    });
    clearTimeout(sampler);
    const ok = result.stats?.successful ?? 0;
    const failed = result.stats?.failed ?? 0;
    const allHeld = ok === calls && failed === 0 && Date.now() - started > fullAtMs;
    const { p50, p99 } = percentiles(result.responseTimesMs);
    const perCallKiB = (peakKiB - baselineKiB) / calls;
    log(
      `  ${ok}/${calls} ok, ${failed} failed; PSS ${(baselineKiB / 1024).toFixed(1)} MiB before, ${(peakKiB / 1024).toFixed(1)} MiB with all calls up ` +
        `(${perCallKiB.toFixed(1)} KiB/call); setup p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
    );
    if (!allHeld) {
      log(`    not every call was held: ${result.errors.split('\n').slice(0, 3).join(' ')}`);
      return { server: 'Patchbay', bench: 'held calls', skipped: `${ok}/${calls} ok, ${failed} failed` };
    }
    return {
      server: 'Patchbay',
      bench: 'held calls',
      memoryKiB: peakKiB,
      memoryLabel: 'PSS',
      cells: {
        rate: `${calls} up`,
        achieved: `${perCallKiB.toFixed(1)} KiB/call`,
        p50,
        p99,
        memory: `${(peakKiB / 1024).toFixed(1)} (PSS; ${(baselineKiB / 1024).toFixed(1)} idle)`,
      },
    };
  } finally {
    await running.stop();
    if (uasPid !== undefined) process.kill(uasPid, 'SIGTERM');
    await uas;
  }
}

/**
 * The sandbox's own cost per call: one dialplan execution (fresh isolate, setup script, a
 * `sys.Dial` answered at once by the host, IPC both ways) through the supervisor, as the
 * B2BUA runs it — without any SIP.
 */
async function measureSandboxCost(): Promise<BenchRow> {
  log('\n== Patchbay: sandbox cost per call (one dialplan execution with one sys.Dial) ==');
  const runs = 400;
  try {
    const { SandboxSupervisor, compileDialplan } = await import('../sandbox/index.ts');
    const compiled = await compileDialplan(benchDialplanSource('127.0.0.1:5090'), 'ts');
    if (!compiled.ok) return { server: 'Patchbay', bench: 'sandbox', skipped: `compile failed: ${JSON.stringify(compiled.errors)}` };
    const uri = (user: string) => ({ user, host: BENCH_DOMAIN, params: {}, raw: `sip:${user}@${BENCH_DOMAIN}` });
    const req = {
      method: 'INVITE',
      uri: uri('b00002'),
      from: { uri: uri('b00001'), tag: 'a' },
      to: { uri: uri('b00002') },
      callId: 'bench',
      headers: {},
      body: '',
      source: { address: '127.0.0.1', port: 5060, transport: 'udp' as const },
      direction: 'out' as const,
    };
    const answered = { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
    const host = { call: async (name: string) => (name === 'Dial' ? answered : null) };
    const supervisor = new SandboxSupervisor();
    await supervisor.start();
    const samples: number[] = [];
    try {
      const params = { tenantId: 'bench', callId: 'bench', dialplanName: BENCH_DIALPLAN, js: compiled.js, sourceMap: compiled.sourceMap, req };
      for (let i = 0; i < 30; i++) await supervisor.run(params, host);
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const result = await supervisor.run(params, host);
        samples.push(performance.now() - started);
        if (result.status !== 'completed') throw new Error(`run ${i}: ${JSON.stringify(result)}`);
      }
    } finally {
      await supervisor.stop();
    }
    const { p50, p99 } = percentiles(samples);
    log(`  ${runs} runs: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    return { server: 'Patchbay', bench: 'sandbox', cells: { rate: `${runs} runs`, achieved: `${(1000 / p50).toFixed(0)}/s/core at p50`, p50, p99, memory: '' } };
  } catch (err) {
    return { server: 'Patchbay', bench: 'sandbox', skipped: String(err).split('\n')[0] };
  }
}

/** BENCH_PROFILE_DIR=dir writes a V8 CPU profile of the server (and its sandbox child) there on stop. */
function patchbayEnv(): Record<string, string> {
  // The bench UAS listens on loopback, which legs may only reach from an allow-listed network.
  const env: Record<string, string> = { PATCHBAY_SANDBOX_MAX_CONCURRENT: '10000', PATCHBAY_ALLOWED_LEG_NETWORKS: '127.0.0.0/8', PATCHBAY_RATE_LIMIT_PER_SOURCE: '0', PATCHBAY_MAX_CALLS: '1000000' };
  if (process.env.BENCH_PROFILE_DIR || process.env.BENCH_ALLOC_PROFILE_DIR) env.NODE_OPTIONS = `--import=${join(BENCH_DIR, 'cpu-profile-preload.mjs')}`;
  // BENCH_NODE_OPTIONS: V8/Node flags for the server, to measure one (e.g. a semi-space size) before keeping it.
  if (process.env.BENCH_NODE_OPTIONS) env.NODE_OPTIONS = [env.NODE_OPTIONS, process.env.BENCH_NODE_OPTIONS].filter(Boolean).join(' ');
  return env;
}

function patchbayTarget(server: PatchbayServer): BenchTarget {
  return {
    address: `127.0.0.1:${server.sipPort}`,
    httpPort: server.httpPort,
    // The same measure as Kamailio's: the server and its sandbox worker (isolates live there).
    memoryKiB: () => processTreePssKiB(server.pid),
    memoryLabel: 'PSS of all processes',
    stop: server.stop,
  };
}

let templateDb: Promise<string> | undefined;

/**
 * Writes the tenant and the accounts straight through the db layer, before the server starts (it
 * caches accounts). The 10,000 accounts are written once into a template file that each target
 * copies; a calls target then adds the dialplan that dials its UAS.
 */
async function provisionPatchbay(dbUrl: string, accounts: BenchAccount[], uasAddress?: string, route: CallRoute = 'dialplan'): Promise<void> {
  const file = dbUrl.replace(/^sqlite:/, '');
  templateDb ??= writeTemplateDb(join(dirname(dirname(file)), 'template.db'), accounts, BENCH_DIALPLAN, log);
  await copyFile(await templateDb, file);
  if (!uasAddress) return;
  if (route === 'bindings') {
    await bindAccountsTo(dbUrl, uasAddress);
    return;
  }
  const { openDatabase } = await import('../db/index.ts');
  const { compileDialplan } = await import('../sandbox/index.ts');
  const db = await openDatabase(dbUrl);
  try {
    const tenant = await db.tenants.findByDomain(BENCH_DOMAIN);
    if (!tenant) throw new Error('bench tenant missing from the template database');
    const source = benchDialplanSource(uasAddress);
    const compiled = await compileDialplan(source, 'ts');
    if (!compiled.ok) throw new Error(`bench dialplan does not compile: ${JSON.stringify(compiled.errors)}`);
    await db.dialplans.save({ tenantId: tenant.id, name: BENCH_DIALPLAN, language: 'ts', source, compiledJs: compiled.js, sourceMap: compiled.sourceMap });
  } finally {
    await db.close();
  }
  // By default callers are trusted by source address (the call path honours allowed CIDRs), as the
  // Kamailio proxy authenticates nobody; BENCH_CALL_AUTH=digest makes every call pass a 407 instead.
  if (CALL_AUTH === 'digest') return;
  const { sqliteDriver } = await import('../db/index.ts');
  const sqlite = new (sqliteDriver())(file);
  try {
    sqlite.prepare('UPDATE sip_accounts SET allowed_cidrs = ?, trust_udp_source = 1').run(JSON.stringify(['127.0.0.1/32']));
  } finally {
    sqlite.close();
  }
}

/** One row compared with another: the ratios of rate, achieved rate, latency and memory. */
interface RowRatio {
  /** What it is compared with, e.g. `Kamailio calls`. */
  against: string;
  rate?: number;
  achieved?: number;
  p50?: number;
  p99?: number;
  memory?: number;
  /** Why there is no ratio (no peer row, a row that did not run). */
  none?: string;
}

/** The Kamailio row each bench is compared with: its proxy runs no script, so every calls row meets its calls row. */
const KAMAILIO_PEER: Partial<Record<BenchName, BenchName>> = {
  register: 'register',
  calls: 'calls',
  'calls, no dialplan': 'calls',
  'calls + sip.trace watcher': 'calls',
  'calls + /metrics 1/s': 'calls',
  overload: 'calls',
};

const quotient = (a: number | undefined, b: number | undefined): number | undefined =>
  a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : undefined;

function compareRows(row: BenchRow, peer: BenchRow | undefined, against: string): RowRatio {
  if (row.skipped || !peer || peer.skipped) return { against, none: row.skipped ? 'row skipped' : `no ${against} row in this run` };
  if (row.bench === 'overload') {
    // Completed calls/s past saturation against Kamailio's clean rate.
    return peer.best ? { against, achieved: quotient(row.completedRate, peer.best.achievedRate), rate: quotient(row.completedRate, peer.best.targetRate) } : { against, none: `${against}: first step failed` };
  }
  if (!row.best || !peer.best) return { against, none: 'a first step failed' };
  const p = percentiles(row.best.responseTimesMs);
  const k = percentiles(peer.best.responseTimesMs);
  return {
    against,
    rate: quotient(row.best.targetRate, peer.best.targetRate),
    achieved: quotient(row.best.achievedRate, peer.best.achievedRate),
    p50: quotient(p.p50, k.p50),
    p99: quotient(p.p99, k.p99),
    memory: quotient(row.memoryKiB, peer.memoryKiB),
  };
}

/** Every row's ratio against Kamailio (rows with no Kamailio equivalent say so), plus the watched calls rows against plain Patchbay calls. */
function ratiosOf(row: BenchRow, rows: BenchRow[]): RowRatio[] {
  const peerBench = KAMAILIO_PEER[row.bench];
  const out: RowRatio[] = [];
  if (row.server === 'Kamailio') out.push({ against: `Kamailio ${row.bench}`, rate: 1, achieved: 1, p50: 1, p99: 1, memory: 1 });
  else if (peerBench) out.push(compareRows(row, rows.find((r) => r.server === 'Kamailio' && r.bench === peerBench), `Kamailio ${peerBench}`));
  else out.push({ against: 'Kamailio', none: 'no Kamailio equivalent' });
  if (row.server === 'Patchbay' && (row.bench === 'calls + sip.trace watcher' || row.bench === 'calls + /metrics 1/s')) {
    out.push(compareRows(row, rows.find((r) => r.server === 'Patchbay' && r.bench === 'calls'), 'Patchbay calls'));
  }
  return out;
}

function printReport(rows: BenchRow[]): void {
  log('\n== results (highest step with zero failures) ==');
  const header = ['bench', 'server', 'rate/s', 'achieved/s', 'p50 ms', 'p99 ms', 'memory MiB', 'rate ratio'];
  const table: string[][] = [header];
  const show = (value: number | undefined): string => (value === undefined ? 'n/a' : value.toFixed(2));
  const rateRatio = (row: BenchRow): string => {
    const [first] = ratiosOf(row, rows);
    return first?.none ? `n/a (${first.none})` : `${show(first?.rate ?? first?.achieved)} vs ${first?.against}`;
  };
  for (const row of rows) {
    if (row.skipped) {
      table.push([row.bench, row.server, 'skipped', row.skipped, '', '', '', rateRatio(row)]);
      continue;
    }
    if (row.cells) {
      table.push([row.bench, row.server, row.cells.rate, row.cells.achieved, row.cells.p50.toFixed(2), row.cells.p99.toFixed(2), row.cells.memory, rateRatio(row)]);
      continue;
    }
    if (!row.best) {
      table.push([row.bench, row.server, 'none', 'first step failed', '', '', '', rateRatio(row)]);
      continue;
    }
    const { p50, p99 } = percentiles(row.best.responseTimesMs);
    table.push([
      row.bench,
      row.server,
      `${row.capped ? '>= ' : ''}${row.best.targetRate}${row.capped ? ' (cap)' : ''}`,
      row.best.achievedRate.toFixed(0),
      p50.toFixed(1),
      p99.toFixed(1),
      row.memoryKiB !== undefined ? `${(row.memoryKiB / 1024).toFixed(1)} (${row.memoryLabel})` : '',
      rateRatio(row),
    ]);
  }
  // The ratios in full: rate, achieved, p50, p99, memory, for every Patchbay row against its peer.
  for (const row of rows) {
    if (row.server !== 'Patchbay') continue;
    for (const r of ratiosOf(row, rows)) {
      if (r.none) continue;
      table.push([row.bench, `Patchbay/${r.against}`, show(r.rate), show(r.achieved), show(r.p50), show(r.p99), show(r.memory), '']);
    }
  }
  const widths = header.map((_, column) => Math.max(...table.map((line) => line[column].length)));
  for (const line of table) log(line.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd());
  const notes = rows.filter((row) => row.note);
  if (notes.length > 0) log('');
  for (const row of notes) log(`${row.bench} (${row.server}): ${row.note}`);
}

async function writeJson(rows: BenchRow[]): Promise<void> {
  const dir = join(REPO_ROOT, '.bench-out');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const summary = rows.map((row) => {
    const { responseTimesMs, ...best } = row.best ?? { responseTimesMs: [] as number[] };
    return { ...row, best: row.best ? { ...best, ...percentiles(responseTimesMs) } : undefined, ratios: ratiosOf(row, rows) };
  });
  await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), cpus: cpus().length, rows: summary }, null, 2)}\n`);
  log(`results written to ${file}`);
}

process.exitCode = await main();
