/**
 * Cost of one trivial dialplan execution through the supervisor (isolate, fresh context, setup
 * script, one sys.Log, IPC both ways), with a fresh isolate per run and with the per-tenant pool
 * of warm isolates. Run: node bin/run-ts.js bench/sandbox-micro.ts [runs]
 */
import { SandboxSupervisor, compileDialplan, type DialplanRequest, type SandboxHost } from '../sandbox/index.ts';

const runs = Number(process.argv[2] ?? 500);
const req: DialplanRequest = {
  method: 'INVITE',
  uri: { user: '1001', host: 'bench.example', params: {}, raw: 'sip:1001@bench.example' },
  from: { uri: { user: 'alice', host: 'bench.example', params: {}, raw: 'sip:alice@bench.example' }, tag: 'a' },
  to: { uri: { user: '1001', host: 'bench.example', params: {}, raw: 'sip:1001@bench.example' } },
  callId: 'bench',
  headers: {},
  body: '',
  source: { address: '127.0.0.1', port: 5060, transport: 'udp' },
  direction: 'in',
};
const host: SandboxHost = { call: async () => null };

const compiled = await compileDialplan('sys.Log(`call to ${req.uri.user}`);', 'ts');
if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
const params = { tenantId: 'bench', callId: 'bench', dialplanName: 'bench', js: compiled.js, sourceMap: compiled.sourceMap, req };

async function measure(label: string, maxUsesPerIsolate: number): Promise<void> {
  const supervisor = new SandboxSupervisor({ isolatePool: { maxUsesPerIsolate } });
  await supervisor.start();
  for (let i = 0; i < 20; i++) await supervisor.run(params, host);
  const samples: number[] = [];
  const cpuBefore = await workerCpuMs(supervisor.pid);
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const result = await supervisor.run(params, host);
    samples.push(performance.now() - started);
    if (result.status !== 'completed') throw new Error(`run ${i}: ${JSON.stringify(result)}`);
  }
  const cpuAfter = await workerCpuMs(supervisor.pid);
  await supervisor.stop();
  samples.sort((a, b) => a - b);
  const pick = (q: number): string => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0).toFixed(2);
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? `, worker CPU ${((cpuAfter - cpuBefore) / runs).toFixed(2)} ms/run` : '';
  console.log(`sandbox trivial dialplan x${runs}, ${label}: p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${pick(1)} ms${cpu}`);
}

/** utime+stime of the worker process (Linux /proc), to see CPU per run beside latency. */
async function workerCpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const { readFile } = await import('node:fs/promises');
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

await measure('fresh isolate per run', 1);
await measure('warm isolates per tenant', 100);
