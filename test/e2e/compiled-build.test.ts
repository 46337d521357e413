import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, expectSippOk, startSipp } from './calls-support.ts';
import { REPO_ROOT, startPatchbay, type PatchbayServer } from './harness/index.ts';

/**
 * The production build (bin/build.mjs → dist/): `bin/patchbay.js` runs the compiled CLI and server
 * with plain node when dist/ is up to date, and the server starts the compiled sandbox worker
 * (under Node's permission model). Proved with a real call: sipp places it, the tenant's dialplan
 * runs in the compiled worker and dials a sipp UAS.
 */

let server: PatchbayServer | undefined;
let tmp = '';

/** Child PIDs of `pid`, recursively (Linux /proc). */
function descendants(pid: number): number[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  const direct = text.split(/\s+/).filter(Boolean).map(Number);
  return [...direct, ...direct.flatMap(descendants)];
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

// The CLI refuses SIP passwords under 8 characters.
const LONG_PASSWORD = 'compiled-secret-1';

beforeAll(async () => {
  // A no-op when dist/ matches the sources (CI: `npm ci` built it in its prepare step).
  execFileSync(process.execPath, ['bin/build.mjs', '--if-stale'], { cwd: REPO_ROOT, stdio: 'inherit', timeout: 60_000 });
  tmp = await mkdtemp(join(tmpdir(), 'patchbay-compiled-'));
  server = await startPatchbay({ env: { PATCHBAY_ALLOWED_LEG_NETWORKS: '127.0.0.0/8' } });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('the compiled build', () => {
  it('bin/patchbay.js finds dist/ up to date and the server runs it without tsx, with the compiled worker', () => {
    const manifest = execFileSync(process.execPath, ['--input-type=module', '-e', "import('./bin/build-manifest.mjs').then((m) => console.log(m.staleReason() ?? 'fresh'))"], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(manifest.trim()).toBe('fresh');
    const tree = descendants(server!.pid).map(commandLine);
    const worker = tree.find((argv) => argv.some((arg) => arg.endsWith('dist/worker.js')));
    expect(worker, JSON.stringify(tree)).toBeDefined();
    expect(worker!.some((arg) => arg === '--permission' || arg === '--experimental-permission')).toBe(true);
    // tsx would have started its esbuild service and loaded worker.ts.
    expect(tree.flat().some((arg) => /esbuild|tsx|worker\.ts$/.test(arg)), JSON.stringify(tree)).toBe(false);
  });

  it('serves the web app from web/ui/dist (the bundle lives one folder away from its sources)', async () => {
    for (const path of ['/', '/switchboard']) {
      const res = await fetch(`http://127.0.0.1:${server!.httpPort}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toContain('<div id="root"');
    }
  });

  it('a call through a dialplan runs in the compiled worker and is answered', async () => {
    const callee = await startSipp('call-uas-answer.xml');
    const plan = join(tmp, 'out.ts');
    await writeFile(plan, `const r: { status: number } = await sys.Dial("sip:uas@127.0.0.1:${callee.port}");\nsys.Log("dialled " + r.status);\n`);
    for (const args of [
      ['tenant', 'add', DOMAIN],
      ['account', 'add', `1001@${DOMAIN}`, '--password', LONG_PASSWORD, '--out-dialplan', 'out'],
      ['dialplan', 'set', DOMAIN, 'out', plan],
    ]) {
      const result = await server!.cli(args);
      expect(result.code, result.stderr).toBe(0);
    }
    const caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: `127.0.0.1:${server!.sipPort}`, service: '2000', user: '1001', password: LONG_PASSWORD });
    await expectSippOk(callee, caller);
  });
});
