export { startPatchbay, runPatchbayCli, REPO_ROOT } from './patchbay-server.ts';
export type { PatchbayOptions, PatchbayServer, CliResult } from './patchbay-server.ts';
export { runSipp, parseSippStats } from './sipp-runner.ts';
export type { SippOptions, SippResult, SippStats } from './sipp-runner.ts';
export { startBaresip } from './baresip-client.ts';
export type { BaresipOptions, BaresipClient } from './baresip-client.ts';
export { freePort, freePorts } from './free-port.ts';
export { ProcessOutput } from './process-output.ts';
export { stopChild, waitForExit } from './child-process-control.ts';
