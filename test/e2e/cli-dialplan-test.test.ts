import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPatchbayCli } from './harness/index.ts';

/** `patchbay dialplan test`: the dry run from the shell, for scripts and CI of the users' own dialplans. */
describe('patchbay dialplan test', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => runPatchbayCli(args, env, 60_000);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'patchbay-cli-dryrun-'));
    env = { ...process.env, PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: 'ef'.repeat(32), PATCHBAY_LOG_LEVEL: 'silent' };
    for (const k of Object.keys(env)) if (k.startsWith('PATCHBAY_') && !['PATCHBAY_DATA_DIR', 'PATCHBAY_SECRET_KEY', 'PATCHBAY_LOG_LEVEL'].includes(k)) delete env[k];
    await writeFile(join(dir, 'plan.ts'), 'sys.Log(`to ${req.uri.user}`);\nawait sys.Dial("1002@local|1003@local");\n');
    await writeFile(join(dir, 'busy-answer.json'), JSON.stringify({
      call: { direction: 'out', from: { account: '1001' }, to: '1002' },
      outcomes: [{ pattern: '1002@local', action: 'busy' }, { pattern: '1003@local', action: 'answer', after: 2 }],
    }));
    await writeFile(join(dir, 'all-busy.json'), JSON.stringify({ call: { direction: 'out', from: { account: '1001' }, to: '1002' }, outcomes: [{ pattern: '*', action: 'busy' }] }));
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ call: { direction: 'out', from: { account: '1001' }, to: '' } }));
    for (const args of [
      ['tenant', 'add', 'acme.test'],
      ['account', 'add', '1001@acme.test', '--password', 'a-long-password-1'],
      ['dialplan', 'set', 'acme.test', 'main', join(dir, 'plan.ts')],
    ]) {
      const r = await cli(...args);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the timeline and exits 0 when the caller is answered', async () => {
    const r = await cli('dialplan', 'test', 'acme.test', 'main', '--call', join(dir, 'busy-answer.json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('log   to 1002');
    expect(r.stdout).toMatch(/group 1 leg 1 1002@local: failed 486 Busy Here/);
    expect(r.stdout).toMatch(/group 2 leg 2 1003@local: answered 200.*← won/);
    expect(r.stdout).toContain('response: 200 OK (by answer)');
  }, 60_000);

  it('exits 1 on a failing call, 0 with --expect of that status; bad call files are usage errors', async () => {
    const busy = await cli('dialplan', 'test', 'acme.test', 'main', '--call', join(dir, 'all-busy.json'));
    expect(busy.code).toBe(1);
    expect(busy.stdout).toContain('response: 486 Busy Here (by dial)');
    expect((await cli('dialplan', 'test', 'acme.test', 'main', '--call', join(dir, 'all-busy.json'), '--expect', '486')).code).toBe(0);
    const bad = await cli('dialplan', 'test', 'acme.test', 'main', '--call', join(dir, 'bad.json'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('call.to');
  }, 90_000);
});
