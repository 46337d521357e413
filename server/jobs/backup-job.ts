import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Database } from '../../db/index.ts';

export interface BackupResult {
  file: string;
  bytes: number;
  /** Older backups deleted to keep `keep`. */
  removed: string[];
}

const NAME = /^patchbay-\d{8}T\d{6}Z(-\d+)?\.sqlite$/;

/**
 * An online SQLite backup into `<dir>/patchbay-<UTC time>.sqlite` (0600, folder 0700: it holds
 * what the live database holds), then the oldest beyond `keep` are deleted. Written under a
 * temporary name first so a half-written file is never taken for a backup.
 */
export async function runBackup(db: Database, opts: { dir: string; keep: number; now?: Date }): Promise<BackupResult> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const stamp = (opts.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let file = path.join(opts.dir, `patchbay-${stamp}.sqlite`);
  for (let n = 1; exists(file); n++) file = path.join(opts.dir, `patchbay-${stamp}-${n}.sqlite`);
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  await db.backupTo(partial);
  chmodSync(partial, 0o600);
  renameSync(partial, file);
  const backups = readdirSync(opts.dir).filter((f) => NAME.test(f)).sort();
  const removed = backups.slice(0, Math.max(0, backups.length - Math.max(1, opts.keep)));
  for (const f of removed) rmSync(path.join(opts.dir, f), { force: true });
  return { file, bytes: statSync(file).size, removed };
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}
