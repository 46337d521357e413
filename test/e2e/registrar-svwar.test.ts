import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchbayServer } from './harness/index.ts';
import { hasTool, runTool, startGuardedSwitch } from './security-support.ts';

const DOMAIN = 'war.test';
const EXISTING = ['1001', '1005', '1010'];

/**
 * Issue 8 items 4 and 8 with the real scanner: SIPVicious `svwar` walking extensions 1000–1012
 * (three of which are accounts) finds none, by REGISTER, INVITE or OPTIONS — every extension
 * gets the same answer, existing or not. `--force` makes it scan although the answer to its
 * made-up first extension already looked like an account's.
 */
describe.skipIf(!hasTool('svwar'))('extension enumeration with svwar (e2e)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startGuardedSwitch(DOMAIN, Object.fromEntries(EXISTING.map((u) => [u, `password-of-${u}`])), { logLevel: 'info' });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  for (const method of ['REGISTER', 'INVITE', 'OPTIONS']) {
    it(`finds no account by ${method}`, async () => {
      const since = server.output.length;
      const out = await runTool('svwar', [
        '-m', method, '-e', '1000-1012', '--domain', DOMAIN, '--force', '-t', '0.5', '-v',
        `udp://127.0.0.1:${server.sipPort}`,
      ], 40_000);
      // svwar reports "extension 'N' exists ..." and a results table for each hit.
      expect(out.output, out.output).not.toMatch(/extension '\d+' (exists|probably exists)/);
      expect(out.output).not.toMatch(/\|\s*10(0\d|1[0-2])\s*\|/);
      for (const ext of EXISTING) expect(out.output).not.toMatch(new RegExp(`\\b${ext}\\b.*(reqauth|noauth|weird)`));
      // It did scan: the server answered its requests (and banned nobody, no password was guessed).
      expect(out.output).toMatch(/Ok SIP device found/);
      expect(out.output, out.output).toMatch(/found nothing/);
      expect(server.output.slice(since)).not.toMatch(/"event":"auth\.ban"/);
    }, 60_000);
  }
});
