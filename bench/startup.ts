/**
 * Start-up time and idle memory of `patchbay serve`, run from the TypeScript sources through tsx
 * (`PATCHBAY_FROM_SOURCE=1 node bin/patchbay.js serve`) and from the compiled build
 * (`node dist/patchbay.js serve`, `npm run build` first), alternating, on an empty SQLite
 * database and loopback ports. Start-up: spawn until the "HTTP API listening" line (the sandbox
 * worker is ready before it). Memory: PSS of the whole process tree (server, sandbox worker, and
 * for tsx its esbuild service) after BENCH_IDLE_SECONDS (default 5) idle. BENCH_ACCOUNTS=10000
 * starts each server on a database with that many accounts, each with one registered binding.
 * Run: node bin/run-ts.js bench/startup.ts [rounds]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAccounts } from './bench-accounts.ts';
import { processTreePssKiB } from './kamailio-server.ts';
import { bindAccountsTo, writeTemplateDb } from './patchbay-provisioning.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rounds = Number(process.argv[2] ?? 3);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const accountCount = Number(process.env.BENCH_ACCOUNTS ?? 0);
let templateDb: string | undefined;

type Mode = 'tsx (source)' | 'compiled (dist)';
const MODES: Record<Mode, { args: string[]; env: Record<string, string> }> = {
  'tsx (source)': { args: [join(ROOT, 'bin/patchbay.js'), 'serve'], env: { PATCHBAY_FROM_SOURCE: '1' } },
  'compiled (dist)': { args: [join(ROOT, 'dist/patchbay.js'), 'serve'], env: {} },
};

async function once(mode: Mode): Promise<{ startMs: number; pssMiB: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'patchbay-startup-'));
  const dbFile = join(dataDir, 'patchbay.db');
  if (templateDb) await copyFile(templateDb, dbFile);
  const started = performance.now();
  const child = spawn(process.execPath, MODES[mode].args, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...MODES[mode].env,
      PATCHBAY_DATA_DIR: dataDir,
      PATCHBAY_DB: `sqlite:${dbFile}`,
      PATCHBAY_SIP_LISTEN: 'udp:127.0.0.1:0,tcp:127.0.0.1:0',
      PATCHBAY_HTTP_LISTEN: '127.0.0.1:0',
      PATCHBAY_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const startMs = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${mode}: no "HTTP API listening" within 30 s:\n${out}`)), 30_000);
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        if (out.includes('HTTP API listening')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${mode}: exited with ${code}:\n${out}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const pssMiB = (await processTreePssKiB(child.pid as number)) / 1024;
    return { startMs, pssMiB };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (!existsSync(join(ROOT, 'dist/patchbay.js'))) throw new Error('no dist/patchbay.js: run npm run build first');
const templateDir = await mkdtemp(join(tmpdir(), 'patchbay-startup-template-'));
if (accountCount > 0) {
  templateDb = await writeTemplateDb(join(templateDir, 'template.db'), benchAccounts(accountCount), 'none', (line) => console.log(line));
  // Bindings to a discard address: registered, never called.
  await bindAccountsTo(`sqlite:${templateDb}`, '127.0.0.1:9');
}
const results: Record<Mode, { startMs: number; pssMiB: number }[]> = { 'tsx (source)': [], 'compiled (dist)': [] };
for (let round = 0; round < rounds; round++) {
  for (const mode of Object.keys(MODES) as Mode[]) {
    const result = await once(mode);
    results[mode].push(result);
    console.log(`${mode}: start-up ${result.startMs.toFixed(0)} ms, idle PSS ${result.pssMiB.toFixed(1)} MiB`);
  }
}
await rm(templateDir, { recursive: true, force: true });
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
for (const mode of Object.keys(MODES) as Mode[]) {
  const rows = results[mode];
  console.log(`${mode} median of ${rows.length}${accountCount ? `, ${accountCount} accounts registered` : ''}: start-up ${median(rows.map((r) => r.startMs)).toFixed(0)} ms, idle PSS ${median(rows.map((r) => r.pssMiB)).toFixed(1)} MiB`);
}
