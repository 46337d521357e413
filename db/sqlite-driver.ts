import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDriver = typeof BetterSqlite3;

const require = createRequire(import.meta.url);

/**
 * better-sqlite3 is installed twice under npm aliases, like isolated-vm: 12.x for Node 20, and
 * 13.x for Node ≥ 22, because 12.x aborts Node ≥ 24.19 when the garbage collector finalizes a
 * statement outside a JS context (its ObjectWrap cleanup hook), while 13.x does not build on
 * Node 20. Each fails to build on the other runtime and npm drops it as optional.
 */
function candidates(): string[] {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 22 ? ['better-sqlite3-node22', 'better-sqlite3-node20'] : ['better-sqlite3-node20', 'better-sqlite3-node22'];
}

let loaded: SqliteDriver | undefined;

export function sqliteDriver(): SqliteDriver {
  if (loaded) return loaded;
  const failures: string[] = [];
  for (const name of candidates()) {
    try {
      loaded = require(name) as SqliteDriver;
      return loaded;
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no better-sqlite3 build loads on Node ${process.version} (${failures.join('; ')}); run npm install on this Node version`);
}
