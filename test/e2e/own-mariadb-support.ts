import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort, stopChild, waitForExit } from './harness/index.ts';

/** Where mariadbd and mariadb-install-db are, or undefined when MariaDB is not installed. */
export function mariadbBinaries(): { server: string; install: string } | undefined {
  const find = (name: string, fallbacks: string[]): string | undefined => {
    const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    const found = which.status === 0 ? which.stdout.trim() : '';
    return found || fallbacks.find((p) => existsSync(p));
  };
  const server = find('mariadbd', ['/usr/sbin/mariadbd', '/usr/libexec/mariadbd']);
  const install = find('mariadb-install-db', ['/usr/bin/mariadb-install-db']);
  return server && install ? { server, install } : undefined;
}

/**
 * A MariaDB server of the test's own: its data dir in a temp folder, on a free loopback port,
 * its own socket and pid file. Killing and restarting it never touches the machine's shared
 * server on 3306.
 */
export interface OwnMariaDb {
  readonly port: number;
  readonly pid: number | undefined;
  /** mysql://root@127.0.0.1:<port>/<database> */
  url(database: string): string;
  /** SIGKILL by PID (no clean shutdown: InnoDB recovers on the next start). */
  kill(): Promise<void>;
  /** Starts it again on the same data dir and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its data dir. */
  destroy(): Promise<void>;
}

export async function startOwnMariaDb(): Promise<OwnMariaDb> {
  const bins = mariadbBinaries();
  if (!bins) throw new Error('mariadbd is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'patchbay-own-mariadb-'));
  const dataDir = join(dir, 'data');
  const user = userInfo().username;
  const install = spawnSync(
    bins.install,
    ['--no-defaults', `--datadir=${dataDir}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (install.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr}${install.stdout}`);
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';

  const start = async (): Promise<void> => {
    log = '';
    const started = spawn(
      bins.server,
      [
        '--no-defaults', `--datadir=${dataDir}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'sock')}`,
        `--pid-file=${join(dir, 'mariadbd.pid')}`, `--user=${user}`, '--skip-log-bin', '--skip-name-resolve', '--innodb-buffer-pool-size=16M',
        '--max-connections=50',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    started.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null) throw new Error(`mariadbd exited before it was ready:\n${log}`);
      try {
        const c = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
        await c.end();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections within 30 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  try {
    await start();
  } catch (err) {
    if (child) await stopChild(child, 5000);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    port,
    get pid() {
      return child?.pid;
    },
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = waitForExit(child);
      child.kill('SIGKILL');
      await exited;
    },
    start,
    async destroy() {
      if (child) await stopChild(child, 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
