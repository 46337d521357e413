import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessOutput, stopChild } from '../test/e2e/harness/index.ts';

export interface KamailioServer {
  pid: number;
  /** Proportional set size of the main process and all its children, in KiB (shared memory counted once). */
  memoryKiB(): Promise<number>;
  readonly output: string;
  stop(): Promise<void>;
}

export interface KamailioOptions {
  /** A config under bench/kamailio with __PLACEHOLDERS__. */
  template: string;
  substitutions: Record<string, string>;
  workDir: string;
  /** Shared memory in MiB. */
  sharedMemoryMiB?: number;
}

/** Runs Kamailio in the foreground (`-DD`, logs on stderr) so its PID is ours to stop. */
export async function startKamailio(options: KamailioOptions): Promise<KamailioServer> {
  let config = await readFile(options.template, 'utf8');
  for (const [key, value] of Object.entries(options.substitutions)) config = config.replaceAll(`__${key}__`, value);
  const configFile = join(options.workDir, 'kamailio.cfg');
  await writeFile(configFile, config);
  const child = spawn(
    'kamailio',
    ['-DD', '-E', '-f', configFile, '-m', String(options.sharedMemoryMiB ?? 256), '-M', '16', '-P', join(options.workDir, 'kamailio.pid')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = new ProcessOutput();
  output.attach(child.stdout);
  output.attach(child.stderr);
  child.once('exit', () => output.markClosed());
  const pid = child.pid ?? -1;
  // Kamailio forks its workers before it answers; wait until the listening socket shows up in /proc.
  const deadline = Date.now() + 10_000;
  const port = options.substitutions.SIP_PORT;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`kamailio exited at start:\n${output.all.slice(-3000)}`);
    if (await udpPortBound(Number(port))) break;
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
  }
  if (!(await udpPortBound(Number(port)))) {
    await stopChild(child, 3000);
    throw new Error(`kamailio did not bind udp ${port}:\n${output.all.slice(-3000)}`);
  }
  return {
    pid,
    memoryKiB: () => processTreePssKiB(pid),
    get output() {
      return output.all;
    },
    stop: async () => {
      await stopChild(child, 5000);
    },
  };
}

async function udpPortBound(port: number): Promise<boolean> {
  const table = await readFile('/proc/net/udp', 'utf8').catch(() => '');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return table.includes(`:${hexPort} `);
}

async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const direct = text.split(/\s+/).filter(Boolean).map(Number);
  const nested = await Promise.all(direct.map((child) => childPids(child)));
  return [...direct, ...nested.flat()];
}

/** PSS of `pid` and all its descendants, in KiB (shared pages counted once across the tree). */
export async function processTreePssKiB(pid: number): Promise<number> {
  let total = 0;
  for (const member of [pid, ...(await childPids(pid))]) {
    const rollup = await readFile(`/proc/${member}/smaps_rollup`, 'utf8').catch(() => '');
    const match = /^Pss:\s+(\d+) kB/m.exec(rollup);
    if (match) total += Number(match[1]);
  }
  return total;
}

/** VmRSS of one process in KiB (0 when it is gone). */
export async function residentKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) : 0;
}
