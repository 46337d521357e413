/**
 * Entry point of the sandbox child process (`node --no-node-snapshot worker`). It owns
 * the isolates; the supervisor in the main process talks to it over the IPC channel
 * (messages in protocol.ts) and restarts it if it dies.
 */
import { DialplanExecution } from './dialplan-execution.ts';
import { loadIsolatedVm } from './isolated-vm-loader.ts';
import type { RunDoneMessage, SupervisorToWorkerMessage, WorkerToSupervisorMessage } from './protocol.ts';

const { ivm, packageName } = loadIsolatedVm();
const executions = new Map<number, DialplanExecution>();

function send(message: WorkerToSupervisorMessage): void {
  if (!process.connected) return;
  try {
    process.send?.(message);
  } catch (error) {
    process.stderr.write(`sandbox worker: cannot send ${message.type}: ${String(error)}\n`);
  }
}

function startRun(message: Extract<SupervisorToWorkerMessage, { type: 'run' }>): void {
  const { execId } = message;
  if (executions.has(execId)) return;
  const execution = new DialplanExecution(ivm, message, {
    sysCall: (seq, name, args) => send({ type: 'sys-call', execId, seq, name, args }),
    sysNotify: (name, args) => send({ type: 'sys-notify', execId, name, args }),
    finished: (result) => {
      executions.delete(execId);
      const done: RunDoneMessage = { type: 'done', execId, result };
      send(done);
    },
  });
  executions.set(execId, execution);
  void execution.start();
}

process.on('message', (raw: unknown) => {
  const message = raw as SupervisorToWorkerMessage;
  if (typeof message !== 'object' || message === null) return;
  if (message.type === 'run') startRun(message);
  else if (message.type === 'sys-result') executions.get(message.execId)?.settle(message.seq, message);
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
