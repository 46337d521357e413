/** Entry of the compiled CLI (`dist/patchbay.js`, built by bin/build.mjs): runs the command line it was started with. */
import { main } from './patchbay.ts';

process.exitCode = await main(process.argv.slice(2));
