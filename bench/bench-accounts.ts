import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const BENCH_DOMAIN = 'bench.test';

export interface BenchAccount {
  username: string;
  password: string;
}

/** `count` distinct accounts with deterministic names and passwords (`b00001` / `pw-00001-bench`). */
export function benchAccounts(count: number): BenchAccount[] {
  return Array.from({ length: count }, (_, index) => {
    const serial = String(index + 1).padStart(5, '0');
    return { username: `b${serial}`, password: `pw-${serial}-bench` };
  });
}

/**
 * The sipp injection file: user;domain;[authentication ...];callee;caller domain. The callee is
 * another bench account so the calls bench can use the same file.
 */
export async function writeSippAccounts(
  file: string,
  accounts: BenchAccount[],
  opts: {
    /** Callers named `<prefix>NNNNN` from `outside.example` (field 4), no account of the switch. */
    callerPrefix?: string;
    /** Every call to this one callee (field 3) instead of the next account. */
    callee?: string;
  } = {},
): Promise<void> {
  const lines = accounts.map((account, index) => {
    const caller = opts.callerPrefix ? `${opts.callerPrefix}${account.username.slice(1)}` : account.username;
    const callee = opts.callee ?? accounts[(index + 1) % accounts.length].username;
    const callerDomain = opts.callerPrefix ? 'outside.example' : BENCH_DOMAIN;
    return `${caller};${BENCH_DOMAIN};[authentication username=${account.username} password=${account.password}];${callee};${callerDomain}`;
  });
  await writeFile(file, `SEQUENTIAL\n${lines.join('\n')}\n`);
}

/** Kamailio db_text tables for auth_db: `version` and `subscriber` with precomputed HA1s. */
export async function writeKamailioSubscribers(dir: string, accounts: BenchAccount[]): Promise<void> {
  await writeFile(join(dir, 'version'), 'table_name(string) table_version(int)\nsubscriber:7\n');
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
  const rows = accounts.map((account, index) => {
    const ha1 = md5(`${account.username}:${BENCH_DOMAIN}:${account.password}`);
    const ha1b = md5(`${account.username}@${BENCH_DOMAIN}:${BENCH_DOMAIN}:${account.password}`);
    return `${index + 1}:${account.username}:${BENCH_DOMAIN}::${ha1}:${ha1b}`;
  });
  await writeFile(
    join(dir, 'subscriber'),
    `id(int,auto) username(string) domain(string) password(string,null) ha1(string) ha1b(string)\n${rows.join('\n')}\n`,
  );
}
