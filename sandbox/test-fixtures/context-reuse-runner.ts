/**
 * Runs dialplans one after another through the worker's real execution path (DialplanExecution,
 * the per-tenant IsolatePool, SandboxIsolate with its hardened context) inside this process, and
 * tells which isolate served each run, so a test can prove that two runs shared one context.
 * Started by context-reuse.test.ts as `node --no-node-snapshot --import tsx <this>`; reads
 * `{ steps: [{ tenantId, source, user? }], segments? }` as JSON on stdin, writes the outcomes as
 * JSON. Calls into the isolates are made as the worker makes them (segment-mode.ts), or with
 * `segments: 'pool'` always through isolated-vm's thread pool.
 */
import { readFileSync } from 'node:fs';
import { compileDialplan } from '../compile.ts';
import { DialplanExecution, type IsolateSource } from '../dialplan-execution.ts';
import { IsolatePool } from '../isolate-pool.ts';
import { loadIsolatedVm } from '../isolated-vm-loader.ts';
import { DEFAULT_SANDBOX_LIMITS, type DialplanRequest, type RunMessage, type RunResult } from '../protocol.ts';
import { SandboxIsolate } from '../sandbox-isolate.ts';
import { SegmentModePolicy } from '../segment-mode.ts';
import { inviteRequest } from './dialplan-run-inputs.ts';

interface Step {
  tenantId: string;
  source: string;
  /** Stored JS to run as it is instead of compiling `source` (what an older compile stored). */
  stored?: { js: string; sourceMap: string };
  /** The caller's user part, so a run has something of its own call to hide. */
  user?: string;
}

export interface StepOutcome {
  result: RunResult;
  logs: string[];
  /** Which isolate served the run: 1 for the first one created, 2 for the next, ... */
  isolate: number;
  /** The run started with its calls into the isolate made on the runner's own thread. */
  sync: boolean;
}

const { ivm } = loadIsolatedVm();
const pool = new IsolatePool((memoryMiB) => SandboxIsolate.create(ivm, memoryMiB), { maxIdlePerTenant: 1, sweepIntervalMs: 60_000 });
const numbers = new Map<SandboxIsolate, number>();
let lastLent: SandboxIsolate | undefined;
/** Leases out; a step ends only when all are back (a result may be reported a moment before). */
let lent = 0;
let allBack: (() => void) | undefined;
const source: IsolateSource = {
  acquire: async (tenantId, memoryMiB) => {
    const lease = await pool.acquire(tenantId, memoryMiB);
    if (!numbers.has(lease.isolate)) numbers.set(lease.isolate, numbers.size + 1);
    lastLent = lease.isolate;
    lent++;
    return lease;
  },
  release: (lease, reusable) => {
    pool.release(lease, reusable);
    if (--lent === 0) allBack?.();
  },
};

function request(user: string): DialplanRequest {
  return inviteRequest({
    callId: `${user}@test`, direction: 'out', caller: user, fromTag: 'f',
    source: { address: '192.0.2.1', port: 5060, transport: 'udp' }, account: { username: user, domain: 'acme.example' },
  });
}

let execId = 1;
async function runStep(step: Step, segments: SegmentModePolicy | undefined): Promise<StepOutcome> {
  const compiled = step.stored ? { ok: true as const, ...step.stored } : await compileDialplan(step.source, 'ts');
  if (!compiled.ok) throw new Error(`compile failed: ${JSON.stringify(compiled.errors)}`);
  const logs: string[] = [];
  const message: RunMessage = {
    type: 'run',
    execId: execId++,
    tenantId: step.tenantId,
    callId: `call-${execId}`,
    dialplanName: 'default',
    js: compiled.js,
    sourceMap: compiled.sourceMap,
    req: request(step.user ?? 'alice'),
    limits: { ...DEFAULT_SANDBOX_LIMITS, cpuMs: 2_000 },
  };
  let sync = false;
  const result = await new Promise<RunResult>((resolve) => {
    const execution: DialplanExecution = new DialplanExecution(
      message,
      {
        sysCall: (seq) =>
          queueMicrotask(() => execution.settle(seq, { value: { answered: false, status: 486, reason: 'Busy Here', outcome: 'busy' } })),
        sysNotify: (_name, args) => logs.push(String(args[0])),
        finished: resolve,
      },
      source,
      segments,
    );
    sync = execution.synchronous;
    void execution.start();
  });
  if (lent > 0) await new Promise<void>((resolve) => (allBack = resolve));
  allBack = undefined;
  return { result, logs, isolate: lastLent ? (numbers.get(lastLent) ?? 0) : 0, sync };
}

const input = JSON.parse(readFileSync(0, 'utf8')) as { steps: Step[]; segments?: 'pool' };
const segments = input.segments === 'pool' ? undefined : new SegmentModePolicy();
const outcomes: StepOutcome[] = [];
for (const step of input.steps) outcomes.push(await runStep(step, segments));
pool.close();
process.stdout.write(JSON.stringify(outcomes));
