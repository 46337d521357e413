/**
 * `npm run bench`: registrations/s (REGISTER with digest, 10,000 distinct accounts) and calls/s
 * (sipp UAC -> server -> sipp UAS) for Patchbay and for Kamailio on the same machine, stepped until the
 * first step with a failure. Everything runs on loopback on free ports, is bounded in time, and
 * every process started here is stopped by its PID.
 *
 * Knobs (env): BENCH_ACCOUNTS (10000), BENCH_RATES (500,1000,2000,4000,8000),
 * BENCH_CALL_RATES (50,100,200,400), BENCH_STEP_SECONDS (5), BENCH_ONLY (kamailio|patchbay).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runSipp, startPatchbay, type PatchbayServer } from '../test/e2e/harness/index.ts';
import { BENCH_DOMAIN, benchAccounts, writeKamailioSubscribers, writeSippAccounts, type BenchAccount } from './bench-accounts.ts';
import { residentKiB, startKamailio } from './kamailio-server.ts';
import { bestPassingStep, percentiles, runSteppedLoad, type LoadStep } from './stepped-load.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const numberList = (text: string | undefined, fallback: number[]): number[] =>
  text ? text.split(',').map(Number).filter((value) => value > 0) : fallback;
const ACCOUNT_COUNT = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
const REGISTER_RATES = numberList(process.env.BENCH_RATES, [500, 1000, 2000, 4000, 8000]);
const CALL_RATES = numberList(process.env.BENCH_CALL_RATES, [50, 100, 200, 400]);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 5);
const ONLY = process.env.BENCH_ONLY;

/** A running server the load is pointed at. */
interface BenchTarget {
  /** `host:port` for sipp. */
  address: string;
  memoryKiB(): Promise<number>;
  memoryLabel: string;
  stop(): Promise<void>;
}

type TargetStart = (workDir: string) => Promise<BenchTarget | { skipped: string }>;

interface BenchRow {
  server: string;
  bench: 'register' | 'calls';
  skipped?: string;
  best?: LoadStep;
  memoryKiB?: number;
  memoryLabel?: string;
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<number> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-bench-'));
  const rows: BenchRow[] = [];
  try {
    log(`bench: ${ACCOUNT_COUNT} accounts, register steps ${REGISTER_RATES.join('/')}/s, call steps ${CALL_RATES.join('/')}/s, ${STEP_SECONDS} s each, ${cpus().length} CPUs`);
    const accounts = benchAccounts(ACCOUNT_COUNT);
    const injectionFile = join(workDir, 'accounts.csv');
    await writeSippAccounts(injectionFile, accounts);

    const wants = (name: string): boolean => !ONLY || ONLY.toLowerCase() === name.toLowerCase();
    if (wants('kamailio')) rows.push(await measureRegistrations('Kamailio', (dir) => startKamailioRegistrar(dir, accounts), workDir, injectionFile));
    if (wants('patchbay')) rows.push(await measureRegistrations('Patchbay', (dir) => startPatchbayRegistrar(dir, accounts), workDir, injectionFile));
    if (wants('kamailio')) rows.push(await measureCalls('Kamailio', startKamailioCallTarget, workDir, injectionFile));
    if (wants('patchbay')) rows.push(await measureCalls('Patchbay', startPatchbayCallTarget, workDir, injectionFile));
    printReport(rows);
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
    return { server, bench: 'register', best: bestPassingStep(steps), memoryKiB: await target.memoryKiB(), memoryLabel: target.memoryLabel };
  } finally {
    await target.stop();
  }
}

async function measureCalls(server: string, start: (workDir: string, uasAddress: string) => Promise<BenchTarget | { skipped: string }>, workDir: string, injectionFile: string): Promise<BenchRow> {
  log(`\n== ${server}: calls (sipp UAC -> ${server} -> sipp UAS, 1 s hold) ==`);
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
    log(`  SKIPPED ${server} calls: ${target.skipped}`);
    return { server, bench: 'calls', skipped: target.skipped };
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
  try {
    const steps = await runSteppedLoad(
      {
        scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'),
        target: target.address,
        injectionFile,
        rates: CALL_RATES,
        stepSeconds: STEP_SECONDS,
        holdSeconds: 1,
      },
      log,
    );
    return { server, bench: 'calls', best: bestPassingStep(steps), memoryKiB: await target.memoryKiB(), memoryLabel: target.memoryLabel };
  } finally {
    await target.stop();
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

async function startKamailioCallTarget(workDir: string, uasAddress: string): Promise<BenchTarget> {
  const port = await freePort();
  const kamailio = await startKamailio({
    template: join(BENCH_DIR, 'kamailio', 'proxy.cfg'),
    substitutions: { SIP_PORT: String(port), CHILDREN: String(Math.max(2, cpus().length)), UAS_ADDR: uasAddress },
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
  return patchbayTarget(await startPatchbay({ dbUrl, logLevel: 'warn', startTimeoutMs: 60_000 }));
}

async function startPatchbayCallTarget(): Promise<BenchTarget | { skipped: string }> {
  const missing = patchbayMissing() ?? (existsSync(join(REPO_ROOT, 'server/calls/index.ts')) ? undefined : 'server/calls/index.ts does not exist yet');
  if (missing) return { skipped: missing };
  // Wire here once the B2BUA routes account-to-account calls: provision the accounts, give the callee
  // a static binding (or an incoming dialplan dialling the UAS), and return patchbayTarget(server).
  return { skipped: 'the B2BUA is not wired into the calls bench yet' };
}

function patchbayTarget(server: PatchbayServer): BenchTarget {
  return {
    address: `127.0.0.1:${server.sipPort}`,
    memoryKiB: () => residentKiB(server.pid),
    memoryLabel: 'VmRSS',
    stop: server.stop,
  };
}

/** Writes the tenant and the accounts straight through the db layer, before the server starts (it caches accounts). */
async function provisionPatchbay(dbUrl: string, accounts: BenchAccount[]): Promise<void> {
  const started = Date.now();
  const { openDatabase } = await import('../db/index.ts');
  const db = await openDatabase(dbUrl);
  try {
    await db.migrate();
    await db.tenants.add({ domain: BENCH_DOMAIN, name: 'bench' });
    for (const account of accounts) {
      await db.accounts.add({ username: account.username, domain: BENCH_DOMAIN, password: account.password });
    }
  } finally {
    await db.close();
  }
  log(`  provisioned ${accounts.length} Patchbay accounts in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function printReport(rows: BenchRow[]): void {
  log('\n== results (highest step with zero failures) ==');
  const header = ['bench', 'server', 'rate/s', 'achieved/s', 'p50 ms', 'p99 ms', 'memory MiB'];
  const table: string[][] = [header];
  for (const row of rows) {
    if (row.skipped) {
      table.push([row.bench, row.server, 'skipped', row.skipped, '', '', '']);
      continue;
    }
    if (!row.best) {
      table.push([row.bench, row.server, 'none', 'first step failed', '', '', '']);
      continue;
    }
    const { p50, p99 } = percentiles(row.best.responseTimesMs);
    table.push([
      row.bench,
      row.server,
      String(row.best.targetRate),
      row.best.achievedRate.toFixed(0),
      p50.toFixed(1),
      p99.toFixed(1),
      row.memoryKiB !== undefined ? `${(row.memoryKiB / 1024).toFixed(1)} (${row.memoryLabel})` : '',
    ]);
  }
  for (const bench of ['register', 'calls'] as const) {
    const patchbay = rows.find((row) => row.bench === bench && row.server === 'Patchbay' && row.best);
    const kamailio = rows.find((row) => row.bench === bench && row.server === 'Kamailio' && row.best);
    if (!patchbay?.best || !kamailio?.best) continue;
    const p = percentiles(patchbay.best.responseTimesMs);
    const k = percentiles(kamailio.best.responseTimesMs);
    const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');
    table.push([
      bench,
      'Patchbay/Kamailio',
      ratio(patchbay.best.targetRate, kamailio.best.targetRate),
      ratio(patchbay.best.achievedRate, kamailio.best.achievedRate),
      ratio(p.p50, k.p50),
      ratio(p.p99, k.p99),
      ratio(patchbay.memoryKiB ?? 0, kamailio.memoryKiB ?? 0),
    ]);
  }
  const widths = header.map((_, column) => Math.max(...table.map((line) => line[column].length)));
  for (const line of table) log(line.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd());
}

process.exitCode = await main();
