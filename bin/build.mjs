#!/usr/bin/env node
// Compiles the server, the `patchbay` CLI and the sandbox worker to JavaScript in dist/ (esbuild,
// one ESM bundle per entry, shared code in chunks, node_modules left as imports). Production runs
// these with plain node; tsx is for development and tests. Run by `npm install` (prepare),
// `npm run build`, and before `npm start` with --if-stale (builds only when a source changed).
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { BUILD_FORMAT, DIST, MANIFEST, OUTPUTS, ROOT, fileStamp, staleReason } from './build-manifest.mjs';

const ifStale = process.argv.includes('--if-stale');
const quiet = process.argv.includes('--quiet');
const reason = staleReason();
if (ifStale && reason === undefined) process.exit(0);

const started = performance.now();
// Built beside dist/ and swapped in at the end, so a server or CLI starting meanwhile never
// finds half a build (bin/patchbay.js falls back to the sources while dist/ is being replaced).
const building = `${DIST}.building-${process.pid}`;
rmSync(building, { recursive: true, force: true });
mkdirSync(building, { recursive: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: [
    { in: 'scripts/patchbay-main.ts', out: 'patchbay' },
    { in: 'sandbox/worker.ts', out: 'worker' },
  ],
  outdir: building,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native addons and every dependency load from node_modules at run time, as in development.
  packages: 'external',
  // Files beside the bundles resolve import.meta.url-relative paths as their sources one folder
  // below the root did (../package.json, ./worker.js).
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  sourcesContent: false,
  banner: { js: '#!/usr/bin/env node' },
  metafile: true,
  logLevel: 'warning',
});

const inputs = {};
for (const file of Object.keys(result.metafile.inputs)) {
  const stamp = fileStamp(path.join(ROOT, file));
  if (stamp !== undefined) inputs[file] = stamp;
}
// package.json is read at run time (version) and decides the build itself.
inputs['package.json'] = fileStamp(path.join(ROOT, 'package.json'));
const outputs = Object.keys(result.metafile.outputs).map((file) => path.relative(building, path.join(ROOT, file)));
for (const required of OUTPUTS) if (!outputs.includes(required)) throw new Error(`build: ${required} was not produced`);
writeFileSync(path.join(building, path.basename(MANIFEST)), `${JSON.stringify({ format: BUILD_FORMAT, inputs, outputs }, null, 1)}\n`);
const previous = `${DIST}.old-${process.pid}`;
if (existsSync(DIST)) renameSync(DIST, previous);
renameSync(building, DIST);
rmSync(previous, { recursive: true, force: true });
if (!quiet) {
  const ms = (performance.now() - started).toFixed(0);
  console.log(`patchbay: built dist/ (${outputs.filter((f) => f.endsWith('.js')).length} files from ${Object.keys(inputs).length} sources) in ${ms} ms${reason && ifStale ? ` — ${reason}` : ''}`);
}
