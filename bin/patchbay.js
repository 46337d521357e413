#!/usr/bin/env node
// The `patchbay` CLI. Runs the compiled build (dist/, see bin/build.mjs) with plain node when it
// was built from the sources as they are; otherwise (a development checkout with edits, or
// PATCHBAY_FROM_SOURCE=1) tsx compiles the TypeScript on load.
import { staleReason } from './build-manifest.mjs';

if (process.env.PATCHBAY_FROM_SOURCE !== '1' && staleReason() === undefined) {
  await import('../dist/patchbay.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../scripts/patchbay.ts');
  process.exitCode = await main(process.argv.slice(2));
}
