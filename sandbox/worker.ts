/**
 * Entry point of the sandbox child process (`node --no-node-snapshot worker`). It owns
 * the isolates; the supervisor in the main process talks to it over the IPC channel
 * (messages in protocol.ts) and restarts it if it dies.
 */
import { DialplanExecution } from './dialplan-execution.ts';
import { IsolatePool, type IsolatePoolOptions } from './isolate-pool.ts';
import { loadIsolatedVm } from './isolated-vm-loader.ts';
import type { RunDoneMessage, SupervisorToWorkerMessage, WorkerToSupervisorMessage } from './protocol.ts';
import { SandboxIsolate } from './sandbox-isolate.ts';
import { IpcOutbox, unbatch } from './ipc-outbox.ts';
import { SegmentModePolicy } from './segment-mode.ts';

const { ivm, packageName } = loadIsolatedVm();
const executions = new Map<number, DialplanExecution>();
const isolates = new IsolatePool((memoryMiB) => SandboxIsolate.create(ivm, memoryMiB), poolOptionsFromArgv());
const segments = new SegmentModePolicy();

/** The supervisor passes the pool options as JSON in argv[2]; anything unreadable means defaults. */
function poolOptionsFromArgv(): Partial<IsolatePoolOptions> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(process.argv[2] ?? '{}');
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const options: Partial<IsolatePoolOptions> = {};
  const source = parsed as Record<string, unknown>;
  for (const key of ['maxUsesPerIsolate', 'maxIdlePerTenant', 'maxIdle', 'overCapGraceMs', 'idleMs', 'sweepIntervalMs', 'spares', 'maxCreating'] as const) {
    const value = source[key];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) options[key] = value;
  }
  return options;
}

const outbox = new IpcOutbox<WorkerToSupervisorMessage>((message) => {
  if (!process.connected) return;
  try {
    process.send?.(message);
  } catch (error) {
    process.stderr.write(`sandbox worker: cannot send ${message.type}: ${String(error)}\n`);
  }
});

function send(message: WorkerToSupervisorMessage): void {
  outbox.push(message);
}

function startRun(message: Extract<SupervisorToWorkerMessage, { type: 'run' }>): void {
  const { execId, tenantId } = message;
  if (executions.has(execId)) return;
  const execution = new DialplanExecution(message, {
    sysCall: (seq, name, args) => send({ type: 'sys-call', execId, tenantId, seq, name, args }),
    sysNotify: (name, args) => send({ type: 'sys-notify', execId, tenantId, name, args }),
    finished: (result, usage) => {
      executions.delete(execId);
      const done: RunDoneMessage = { type: 'done', execId, tenantId, result, ...(usage && { usage }) };
      send(done);
    },
  }, isolates, segments);
  executions.set(execId, execution);
  void execution.start();
}

process.on('message', (raw: unknown) => {
  for (const message of unbatch<SupervisorToWorkerMessage>(raw)) {
    if (message.type === 'run') startRun(message);
    else if (message.type === 'sys-result') executions.get(message.execId)?.settle(message.seq, message);
  }
});

// Without the supervisor nobody can answer a sys call: end instead of lingering.
process.on('disconnect', () => {
  for (const execution of executions.values()) execution.abort('sandbox supervisor went away');
  process.exit(0);
});

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`sandbox worker: unhandled rejection: ${String(reason)}\n`);
});

send({ type: 'ready', isolatedVm: packageName });
