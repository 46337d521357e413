import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// V8 flags are per process: each case runs in a child of its own, never in the test runner.
const dir = mkdtempSync(join(tmpdir(), 'patchbay-young-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * New-space size (MiB) when the function is called (tsx's own start may have grown it already,
 * which is why bin/patchbay.js calls it first thing) and after a churn whose survivors make V8
 * grow it, and what the function answered.
 */
function run(nodeArgs: string[]): { applied: boolean; atCallMiB: number; newSpaceMiB: number } {
  const script = join(dir, `probe-${nodeArgs.length}.mts`);
  writeFileSync(script, `
import v8 from 'node:v8';
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size / 1048576;
import { keepYoungGenerationSmall } from ${JSON.stringify(pathToFileURL(resolve('server/young-generation.ts')).href)};
const atCallMiB = newSpace();
const applied = keepYoungGenerationSmall();
const keep = new Array(200_000);
for (let i = 0; i < 3_000_000; i++) keep[i % 200_000] = { i, s: 'x' + i };
process.stdout.write(JSON.stringify({ applied, atCallMiB, newSpaceMiB: newSpace() }));
`);
  const out = execFileSync(process.execPath, [...nodeArgs, resolve('bin/run-ts.js'), script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(out) as { applied: boolean; atCallMiB: number; newSpaceMiB: number };
}

describe('keepYoungGenerationSmall', () => {
  it('stops the new space growing from where it is', () => {
    const r = run([]);
    expect(r.applied).toBe(true);
    expect(r.newSpaceMiB).toBeLessThanOrEqual(r.atCallMiB);
  });

  it('leaves a --max-semi-space-size given by the operator alone', () => {
    const r = run(['--max-semi-space-size=8']);
    expect(r.applied).toBe(false);
    expect(r.newSpaceMiB).toBeGreaterThan(r.atCallMiB);
  });
});
