/**
 * Where idle memory goes (issue 13 item 4): starts the compiled server on a database with
 * BENCH_ACCOUNTS (default 10,000) accounts, each with one registered binding, waits
 * BENCH_IDLE_SECONDS (default 10), and prints PSS per process (server, sandbox worker) with the
 * server's private anonymous memory split out. BENCH_NODE_OPTIONS is passed to the server as
 * NODE_OPTIONS, to measure a V8 flag before keeping it, e.g.
 * `BENCH_NODE_OPTIONS=--max-semi-space-size=1 node bin/run-ts.js bench/idle-memory.ts`.
 * BENCH_HEAP_TOP=N then takes a heap snapshot of the server and prints its N largest
 * constructors by self size (what the idle heap holds).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPatchbay } from '../test/e2e/harness/index.ts';
import { benchAccounts } from './bench-accounts.ts';
import { takeHeapSnapshot, topRows } from './heap-snapshot-summary.ts';
import { bindAccountsTo, writeTemplateDb } from './patchbay-provisioning.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const accountCount = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const heapTop = Number(process.env.BENCH_HEAP_TOP ?? 0);
const log = (line: string): void => void process.stdout.write(`${line}\n`);

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(BENCH_DIR, '..', 'bin', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-idle-'));
  try {
    const dbFile = join(workDir, 'patchbay.db');
    await writeTemplateDb(dbFile, benchAccounts(accountCount), 'bench-out', log);
    await bindAccountsTo(`sqlite:${dbFile}`, '127.0.0.1:5999');
    const nodeOptions = [process.env.BENCH_NODE_OPTIONS, heapTop > 0 ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${workDir}` : undefined].filter(Boolean).join(' ');
    const server = await startPatchbay({
      dbUrl: `sqlite:${dbFile}`,
      logLevel: 'warn',
      startTimeoutMs: 60_000,
      env: nodeOptions ? { NODE_OPTIONS: nodeOptions } : {},
    });
    try {
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      const pids = [server.pid, ...children(server.pid)];
      let total = 0;
      for (const pid of pids) {
        const r = rollup(pid);
        total += r.Pss ?? 0;
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(-2).join(' ').slice(-60);
        log(`  pid ${pid} ${cmd}: PSS ${((r.Pss ?? 0) / 1024).toFixed(1)} MiB (anon ${((r.Pss_Anon ?? 0) / 1024).toFixed(1)}, file ${((r.Pss_File ?? 0) / 1024).toFixed(1)}), RSS ${((r.Rss ?? 0) / 1024).toFixed(1)} MiB`);
      }
      log(`idle with ${accountCount} accounts${process.env.BENCH_NODE_OPTIONS ? `, NODE_OPTIONS=${process.env.BENCH_NODE_OPTIONS}` : ''}: PSS ${(total / 1024).toFixed(1)} MiB`);
      if (heapTop > 0) {
        const summary = await takeHeapSnapshot(server.pid, workDir, 'idle server', log);
        for (const line of topRows([...summary].map(([name, t]) => ({ name, ...t })), heapTop)) log(line);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

await main();
