#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on load so `npm start` needs no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../scripts/patchbay.ts');
process.exitCode = await main(process.argv.slice(2));
