import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runSipp } from './harness/index.ts';
import { DOMAIN, PASSWORD, SCENARIOS, type Switch } from './calls-support.ts';

/** Registers `user` with digest from `port` (sipp register-digest.xml), so the switch rings that port. */
export async function registerPhone(sw: Switch, user: string, port: number, opts: { domain?: string; scenario?: string } = {}): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-presence-reg-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${user};${opts.domain ?? DOMAIN};[authentication username=${user} password=${PASSWORD}]\n`);
    const args = ['-m', '1', '-inf', injection];
    const reg = await runSipp({ scenario: join(SCENARIOS, opts.scenario ?? 'register-digest.xml'), target: sw.target, localPort: port, timeoutMs: 15_000, args });
    expect(reg.code, reg.stderr + reg.errors).toBe(0);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
