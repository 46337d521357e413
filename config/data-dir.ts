import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { ConfigError } from './config-error.ts';

/**
 * The data dir holds the secret key and (by default) the SQLite database, HA1s included: only
 * Patchbay's own user may enter it (the sandbox worker's user in particular may not). A folder we
 * do not own is left as it is rather than failing the start; its files are still 0600.
 */
export function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const stat = statSync(dataDir);
    if (!stat.isDirectory()) throw new ConfigError('PATCHBAY_DATA_DIR', `${dataDir} is not a directory`);
    if ((stat.mode & 0o077) !== 0 && stat.uid === process.getuid?.()) chmodSync(dataDir, 0o700);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new ConfigError('PATCHBAY_DATA_DIR', `${dataDir} is not a directory`);
    }
    throw new ConfigError('PATCHBAY_DATA_DIR', `cannot prepare ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
