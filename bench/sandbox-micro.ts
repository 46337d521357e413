/**
 * Cost of one dialplan execution through the supervisor (isolate, context, one sys.Log, IPC both
 * ways): with a fresh isolate per run, with the per-tenant pool of warm isolates, and warm with one
 * sys.Dial answered at once by the host (what a call through a dialplan costs the sandbox; the
 * bench's "sandbox" row), a burst of runs at once, and a steady call rate. CPU per run of the worker (all of it, and its
 * main thread: the rest is isolated-vm's threads) and of this process (the supervisor's side).
 * Run: node bin/run-ts.js bench/sandbox-micro.ts [runs] [row filter]
 */
import { SandboxSupervisor, type SandboxHost } from '../sandbox/index.ts';
import { compiledDialplan, inviteRequest } from '../sandbox/test-fixtures/dialplan-run-inputs.ts';

const runs = Number(process.argv[2] ?? 500);
const only = process.argv[3];
const req = inviteRequest({
  callId: 'bench', direction: 'in', callee: '1001', domain: 'bench.example', fromTag: 'a', source: { address: '127.0.0.1', port: 5060, transport: 'udp' },
});
const answered = { answered: true, status: 200, reason: 'OK', outcome: 'answered' };
const host: SandboxHost = { call: async (name) => (name === 'Dial' ? answered : null) };

async function paramsFor(source: string) {
  return { tenantId: 'bench', callId: 'bench', dialplanName: 'bench', ...(await compiledDialplan(source)), req };
}
const logOnly = await paramsFor('sys.Log(`call to ${req.uri.user}`);');
const withDial = await paramsFor('sys.Log(`call to ${req.uri.user}`);\nconst r = await sys.Dial(`${req.uri.user}@local`);\nif (!r.answered) sys.Log(r.reason);');

/** `maxUsesPerIsolate` undefined: the pool's defaults, as the server runs them. */
async function measure(label: string, maxUsesPerIsolate: number | undefined, params: typeof logOnly): Promise<void> {
  if (only && !label.includes(only)) return;
  const supervisor = new SandboxSupervisor(maxUsesPerIsolate === undefined ? {} : { isolatePool: { maxUsesPerIsolate } });
  await supervisor.start();
  for (let i = 0; i < 20; i++) await supervisor.run(params, host);
  const samples: number[] = [];
  const cpuBefore = await workerCpuMs(supervisor.pid);
  const ownBefore = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const result = await supervisor.run(params, host);
    samples.push(performance.now() - started);
    if (result.status !== 'completed') throw new Error(`run ${i}: ${JSON.stringify(result)}`);
  }
  const own = process.cpuUsage(ownBefore);
  const cpuAfter = await workerCpuMs(supervisor.pid);
  await supervisor.stop();
  samples.sort((a, b) => a - b);
  const pick = (q: number): string => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0).toFixed(2);
  const perRun = (ms: number): string => `${((ms * 1000) / runs).toFixed(0)} µs`;
  const perRunCount = (count: number): string => (count / runs).toFixed(1);
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined
    ? `, worker CPU ${perRun(cpuAfter.all - cpuBefore.all)}/run (main thread ${perRun(cpuAfter.main - cpuBefore.main)}), ` +
      `worker thread switches ${perRunCount(cpuAfter.switches - cpuBefore.switches)}/run (main thread ${perRunCount(cpuAfter.mainSwitches - cpuBefore.mainSwitches)})`
    : '';
  console.log(`sandbox dialplan x${runs}, ${label}: p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${pick(1)} ms${cpu}, supervisor CPU ${perRun((own.user + own.system) / 1000)}/run`);
}

/**
 * utime+stime of the worker process and of its main thread (Linux /proc), to see CPU per run
 * beside latency: the rest is isolated-vm's threads, where the isolates run. And the context
 * switches of all its threads (each a wake-up: a thread handing work to another, an IPC read),
 * a count that the noise of a shared machine barely moves, unlike CPU time.
 */
async function workerCpuMs(pid: number | undefined): Promise<{ all: number; main: number; switches: number; mainSwitches: number } | undefined> {
  if (pid === undefined) return undefined;
  try {
    const { readFile, readdir } = await import('node:fs/promises');
    const ticks = async (file: string): Promise<number> => {
      const fields = (await readFile(file, 'utf8')).split(') ')[1]?.split(' ') ?? [];
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    };
    const switchesOf = async (task: string): Promise<number> => {
      const status = await readFile(`/proc/${pid}/task/${task}/status`, 'utf8').catch(() => '');
      let count = 0;
      for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) count += Number(match[1]);
      return count;
    };
    let switches = 0;
    for (const task of await readdir(`/proc/${pid}/task`)) switches += await switchesOf(task);
    return {
      all: await ticks(`/proc/${pid}/stat`),
      main: await ticks(`/proc/${pid}/task/${pid}/stat`),
      switches,
      mainSwitches: await switchesOf(String(pid)),
    };
  } catch {
    return undefined;
  }
}

await measure('fresh isolate per run', 1, logOnly);
await measure('warm isolates per tenant', undefined, logOnly);
await measure('warm, one sys.Dial', undefined, withDial);

/**
 * A burst: `runs` calls of one tenant arrive at once and each waits 5 ms in its sys.Dial (the
 * calls layer's answer), as after an event-loop hiccup of the switch. Shows how much worker CPU
 * the burst costs (isolates made for it) and how long the last run waits.
 */
async function measureBurst(label: string): Promise<void> {
  if (only && !label.includes(only)) return;
  const slowHost: SandboxHost = { call: (name) => new Promise((resolve) => setTimeout(() => resolve(name === 'Dial' ? answered : null), 5)) };
  const supervisor = new SandboxSupervisor({ maxConcurrentPerTenant: 10_000, maxQueued: 100_000 });
  await supervisor.start();
  for (let i = 0; i < 20; i++) await supervisor.run(withDial, host);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cpuBefore = await workerCpuMs(supervisor.pid);
  const started = performance.now();
  const samples = await Promise.all(Array.from({ length: runs }, async () => {
    const result = await supervisor.run(withDial, slowHost);
    if (result.status !== 'completed') throw new Error(JSON.stringify(result));
    return performance.now() - started;
  }));
  const cpuAfter = await workerCpuMs(supervisor.pid);
  await supervisor.stop();
  samples.sort((a, b) => a - b);
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? `, worker CPU ${(cpuAfter.all - cpuBefore.all).toFixed(0)} ms in all` : '';
  console.log(`sandbox dialplan x${runs}, ${label}: all done in ${samples[samples.length - 1]!.toFixed(0)} ms, p50 ${samples[Math.floor(samples.length / 2)]!.toFixed(1)} ms${cpu}`);
}

await measureBurst('burst of one tenant, 5 ms in sys.Dial');

/**
 * A steady call rate: `rate` runs a second, spread over 4 tenants, each answered 20 ms into its
 * sys.Dial (so ~rate/50 runs wait in Dial at once). One second to ramp up (the pool makes the
 * isolates that many runs in Dial hold), then two measured. Admission control as the server runs
 * it: a worker that falls behind shows as 503s and a growing p99 (sandbox time, the 20 ms
 * excluded).
 */
async function measureRate(label: string, rate: number): Promise<void> {
  if (only && !label.includes(only)) return;
  const ringingHost: SandboxHost = { call: (name) => new Promise((resolve) => setTimeout(() => resolve(name === 'Dial' ? answered : null), 20)) };
  const supervisor = new SandboxSupervisor({ maxConcurrentPerTenant: 1_000 });
  await supervisor.start();
  const tenants = ['t1', 't2', 't3', 't4'].map((tenantId) => ({ ...withDial, tenantId }));
  for (let i = 0; i < 20; i++) await Promise.all(tenants.map((params) => supervisor.run(params, host)));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const total = rate * 2;
  const rampUp = rate;
  const samples: number[] = [];
  let refused = 0;
  let rampRefused = 0;
  const runs: Promise<void>[] = [];
  let cpuBefore: Awaited<ReturnType<typeof workerCpuMs>>;
  let ownBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < rampUp + total; i++) {
    if (i === rampUp) {
      cpuBefore = await workerCpuMs(supervisor.pid);
      ownBefore = process.cpuUsage();
    }
    const measured = i >= rampUp;
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const at = performance.now();
    runs.push(supervisor.run(tenants[i % tenants.length]!, ringingHost).then((result) => {
      if (result.status !== 'completed') {
        if (measured) refused++;
        else rampRefused++;
      } else if (measured) samples.push(performance.now() - at - 20);
    }));
  }
  await Promise.all(runs);
  const own = process.cpuUsage(ownBefore);
  const cpuAfter = await workerCpuMs(supervisor.pid);
  await supervisor.stop();
  samples.sort((a, b) => a - b);
  const pick = (q: number): string => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0).toFixed(2);
  const perRun = (ms: number): string => `${((ms * 1000) / total).toFixed(0)} µs`;
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? `, worker CPU ${perRun(cpuAfter.all - cpuBefore.all)}/run (main thread ${perRun(cpuAfter.main - cpuBefore.main)})` : '';
  console.log(`sandbox dialplan x${total}, ${label}: refused ${refused} (ramp-up ${rampRefused} of ${rampUp}), p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms (20 ms in Dial excluded)${cpu}, supervisor CPU ${perRun((own.user + own.system) / 1000)}/run`);
}

for (const rate of [500, 1000, 2000]) await measureRate(`${rate}/s over 4 tenants, 20 ms in sys.Dial`, rate);
