// Loaded with NODE_OPTIONS=--import (Node 20 refuses --cpu-prof there): profiles the Patchbay server
// process (and with BENCH_PROFILE_SANDBOX=1 its sandbox worker) and writes a .cpuprofile into BENCH_PROFILE_DIR when it exits.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_PROFILE_DIR;
const main = process.argv[1] ?? '';
if (dir && (main.endsWith('patchbay.js') || (process.env.BENCH_PROFILE_SANDBOX && /sandbox[/\\]worker/.test(main)))) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // The main-thread session answers synchronously, so this still runs inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${main.endsWith('patchbay.js') ? 'patchbay' : 'sandbox'}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('exit', write);
  // The supervisor stops its worker with SIGKILL, so the worker writes after BENCH_PROFILE_SANDBOX seconds.
  if (!main.endsWith('patchbay.js')) setTimeout(write, Number(process.env.BENCH_PROFILE_SANDBOX) * 1000).unref();
}

// BENCH_ALLOC_PROFILE_DIR: a sampling allocation profile of the server (objects the GC already
// collected included, so it shows the churn that keeps the collector busy, not only what lives).
const allocDir = process.env.BENCH_ALLOC_PROFILE_DIR;
if (allocDir && main.endsWith('patchbay.js')) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  let written = false;
  process.on('exit', () => {
    if (written) return;
    written = true;
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (!err) writeFileSync(join(allocDir, `patchbay-${process.pid}.heapprofile`), JSON.stringify(result.profile));
    });
  });
}
