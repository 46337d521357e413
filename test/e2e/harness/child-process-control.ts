import type { ChildProcess } from 'node:child_process';

/** Resolves with the exit code (or -1 when killed by a signal) once the child has exited. */
export function waitForExit(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(-1);
  return new Promise((resolveExit) => {
    child.once('exit', (code) => resolveExit(code ?? -1));
  });
}

/**
 * Stops one child by its PID: SIGTERM, then SIGKILL if it has not exited after `graceMs`.
 * Only the process we spawned is signalled — never a process group or a name pattern.
 */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<number> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return child.exitCode ?? -1;
  const exited = waitForExit(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<'timeout'>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), graceMs);
  });
  const first = await Promise.race([exited, forced]);
  clearTimeout(timer);
  if (first === 'timeout') {
    child.kill('SIGKILL');
    return exited;
  }
  return first;
}
