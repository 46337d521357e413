import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchbayServer } from './harness/index.ts';
import { storedBindings } from './registrar-support.ts';
import { hasTool, runTool, startGuardedSwitch } from './security-support.ts';

const DOMAIN = 'crack.test';
const PASSWORD = 'hunter2-but-longer';

/**
 * Issue 8 item 7 with the real tool: `svcrack` (Debian package sipvicious) guessing a dictionary
 * whose 25th word is the password never gets there — the source is banned after 10 failures.
 */
describe.skipIf(!hasTool('svcrack'))('brute-force guard against svcrack (e2e)', () => {
  let server: PatchbayServer;
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'patchbay-svcrack-'));
    server = await startGuardedSwitch(DOMAIN, { '1001': PASSWORD });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('bans svcrack before it reaches the right word', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `wrong${i + 1}`);
    words[24] = PASSWORD;
    const dictionary = join(workDir, 'words.txt');
    await writeFile(dictionary, words.join('\n') + '\n');
    const out = await runTool('svcrack', [
      '-u', '1001', '-d', dictionary, '--domain', DOMAIN, '-b', '127.0.0.1', '--maximumtime', '4', '-t', '0.05',
      `udp://127.0.0.1:${server.sipPort}`,
    ], 15_000);
    // svcrack keeps trying against the 403s until it is stopped; it must never have found it.
    expect(out.output).not.toContain(PASSWORD);
    expect(storedBindings(server, '1001')).toEqual([]);
    const failures = server.output.split('\n').filter((l) => l.includes('"event":"auth.failed"') && l.includes('"source":"127.0.0.1"'));
    expect(failures.length, out.output).toBeGreaterThanOrEqual(10);
    expect(failures.length).toBeLessThan(20);
    expect(server.output).toMatch(/"event":"auth\.ban".*"source":"127\.0\.0\.1"/);
  }, 90_000);
});
