/**
 * Where memory goes after a load step (issue 13 item 4): starts Patchbay (compiled, as the bench
 * does) with `--heapsnapshot-signal`, warms the B2BUA call path (outside callers ringing bound
 * accounts, no dialplan) or the dialplan path, takes a heap snapshot, runs one step of calls,
 * waits for the calls to end and the transactions to settle, takes a second snapshot, and prints
 * what grew by constructor (count and self size), plus PSS before/after.
 *
 *   node bin/run-ts.js bench/heap-step.ts [rate=400] [seconds=5] [settleSeconds=40] [route=bindings|dialplan] [held]
 *
 * BENCH_NODE_OPTIONS is added to the server's NODE_OPTIONS (as in idle-memory.ts).
 * BENCH_SNAPSHOTS=0 takes no snapshot, for PSS alone: a snapshot mallocs tens of MiB that the
 * process keeps resident afterwards, so every PSS read after the first snapshot includes it.
 *
 * With `held` the step's calls stay up (each is held until well after the second snapshot), so
 * the diff is what the live calls hold, and it is also printed per call.
 *
 * Heavy (two snapshots of a ~100 MiB heap): run it alone, never in tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runSipp, startPatchbay } from '../test/e2e/harness/index.ts';
import { BENCH_DOMAIN, benchAccounts, writeSippAccounts } from './bench-accounts.ts';
import { takeHeapSnapshot, topRows } from './heap-snapshot-summary.ts';
import { processTreePssKiB } from './kamailio-server.ts';
import { bindAccountsTo, writeTemplateDb } from './patchbay-provisioning.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const [rate = 400, seconds = 5, settleSeconds = 40] = process.argv.slice(2, 5).map(Number);
const route = process.argv[5] === 'dialplan' ? 'dialplan' : 'bindings';
const held = process.argv[6] === 'held';
const snapshots = process.env.BENCH_SNAPSHOTS !== '0';
const noSnapshot = new Map<string, { count: number; size: number }>();
const log = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  // Measure what production runs: the compiled build, brought up to date first (as run.ts does).
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [join(BENCH_DIR, '..', 'bin', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-heap-'));
  let stop: (() => Promise<void>) | undefined;
  let uasPid: number | undefined;
  let uas: Promise<unknown> | undefined;
  try {
    const accounts = benchAccounts(1000);
    const dbFile = join(workDir, 'patchbay.db');
    await writeTemplateDb(dbFile, accounts, 'bench-out', log);
    const uasPort = await freePort();
    const uasAddress = `127.0.0.1:${uasPort}`;
    const dbUrl = `sqlite:${dbFile}`;
    const callers = join(workDir, 'callers.csv');
    if (route === 'bindings') {
      await bindAccountsTo(dbUrl, uasAddress);
      await writeSippAccounts(callers, accounts, { callerPrefix: 'ext' });
    } else {
      const { openDatabase } = await import('../db/index.ts');
      const { compileDialplan } = await import('../sandbox/index.ts');
      const db = await openDatabase(dbUrl);
      const tenant = (await db.tenants.findByDomain(BENCH_DOMAIN))!;
      const source = `await sys.Dial(\`sip:\${req.uri.user}@${uasAddress}\`);\n`;
      const compiled = await compileDialplan(source, 'ts');
      if (!compiled.ok) throw new Error('dialplan does not compile');
      await db.dialplans.save({ tenantId: tenant.id, name: 'bench-out', language: 'ts', source, compiledJs: compiled.js, sourceMap: compiled.sourceMap });
      await db.close();
      const { sqliteDriver } = await import('../db/index.ts');
      const sqlite = new (sqliteDriver())(dbFile);
      sqlite.prepare('UPDATE sip_accounts SET allowed_cidrs = ?, trust_udp_source = 1').run(JSON.stringify(['127.0.0.1/32']));
      sqlite.close();
      await writeSippAccounts(callers, accounts);
    }
    const server = await startPatchbay({
      dbUrl,
      logLevel: 'warn',
      startTimeoutMs: 60_000,
      env: {
        PATCHBAY_SANDBOX_MAX_CONCURRENT: '10000', PATCHBAY_ALLOWED_LEG_NETWORKS: '127.0.0.0/8', PATCHBAY_RATE_LIMIT_PER_SOURCE: '0', PATCHBAY_MAX_CALLS: '1000000',
        NODE_OPTIONS: [process.env.BENCH_NODE_OPTIONS, `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${workDir}`].filter(Boolean).join(' '),
      },
    });
    stop = server.stop;
    uas = runSipp({ scenario: join(BENCH_DIR, 'scenarios', 'uas-answer.xml'), localPort: uasPort, timeoutMs: (seconds + settleSeconds + 300) * 1000, args: ['-max_socket', '1'], onSpawn: (pid) => (uasPid = pid) });
    let uacPid: number | undefined;
    const calls = async (r: number, s: number, holdMs = 1000) => runSipp({
      onSpawn: (pid) => (uacPid = pid),
      scenario: join(BENCH_DIR, 'scenarios', 'uac-call.xml'), target: `127.0.0.1:${server.sipPort}`, localPort: await freePort(), timeoutMs: (s + 30) * 1000 + holdMs,
      args: ['-inf', callers, '-r', String(r), '-rp', '1000', '-m', String(r * s), '-l', String(holdMs > 1000 ? r * s : r * 4), '-d', String(holdMs), '-recv_timeout', '5000', '-max_socket', '1'],
    });
    const warm = await calls(Math.max(1, Math.floor(rate / 2)), 4);
    log(`  warm-up: ${warm.stats?.successful ?? 0} ok, ${warm.stats?.failed ?? 0} failed`);
    // Past the warm-up's transactions (64·T1 = 32 s lingering at most) before the baseline.
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const pss0 = await processTreePssKiB(server.pid);
    const before = snapshots ? await takeHeapSnapshot(server.pid, workDir, 'before', log) : noSnapshot;
    // Held: every call stays up until well past the second snapshot (which can take a minute).
    const stepping = calls(rate, seconds, held ? (settleSeconds + 150) * 1000 : 1000);
    if (held) await new Promise((r) => setTimeout(r, seconds * 1000 + 2000));
    // The step's sipp ends by itself after its calls (1 s each); uacPid may still be the warm-up's
    // sipp, long gone, when this line runs.
    else await stepping.catch(() => undefined);
    const pss1 = await processTreePssKiB(server.pid);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const pss2 = await processTreePssKiB(server.pid);
    const after = snapshots ? await takeHeapSnapshot(server.pid, workDir, `after ${settleSeconds} s settle`, log) : noSnapshot;
    // The snapshot ran a full GC: what PSS is left now is not garbage waiting for a collection.
    const pss3 = await processTreePssKiB(server.pid);
    log(
      `  PSS: ${(pss0 / 1024).toFixed(1)} MiB before, ${(pss1 / 1024).toFixed(1)} MiB right after the step, ${(pss2 / 1024).toFixed(1)} MiB after ${settleSeconds} s, ` +
        `${(pss3 / 1024).toFixed(1)} MiB after the snapshot's full GC`,
    );
    const rows = [...new Set([...before.keys(), ...after.keys()])].map((name) => {
      const b = before.get(name) ?? { count: 0, size: 0 };
      const a = after.get(name) ?? { count: 0, size: 0 };
      return { name, count: a.count - b.count, size: a.size - b.size };
    });
    log(`\n  grew most (self size, count) after the step ${held ? `(${rate * seconds} calls held)` : 'settled'}:`);
    for (const line of topRows(rows, 25)) log(line);
    if (held) {
      const total = rows.reduce((sum, r) => sum + r.size, 0);
      log(`\n  per held call: ${(total / (rate * seconds) / 1024).toFixed(1)} KiB of objects; PSS ${((pss3 - pss0) / (rate * seconds)).toFixed(1)} KiB`);
      // The calls are still up: the caller's sipp is stopped (by its PID) rather than waited for.
      if (uacPid !== undefined) process.kill(uacPid, 'SIGTERM');
      await stepping.catch(() => undefined);
    }
  } finally {
    await stop?.();
    if (uasPid !== undefined) process.kill(uasPid, 'SIGTERM');
    await uas;
    await rm(workDir, { recursive: true, force: true });
  }
}

await main();
