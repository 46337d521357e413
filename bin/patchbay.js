#!/usr/bin/env node
// The `patchbay` CLI. Runs the compiled build (dist/, see bin/build.mjs) with plain node when it
// was built from the sources as they are; otherwise (a development checkout with edits, or
// PATCHBAY_FROM_SOURCE=1) tsx compiles the TypeScript on load.
import v8 from 'node:v8';
import { staleReason } from './build-manifest.mjs';

// `serve` keeps V8's young generation small (server/young-generation.ts says why), and must do
// so before staleReason() hashes the sources: that alone would grow it to 32 MiB for good.
if (process.argv[2] === 'serve' && !/--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/.test([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '))) {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

if (process.env.PATCHBAY_FROM_SOURCE !== '1' && staleReason() === undefined) {
  await import('../dist/patchbay.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../scripts/patchbay.ts');
  process.exitCode = await main(process.argv.slice(2));
}
