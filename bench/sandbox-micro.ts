/**
 * Cost of one trivial dialplan execution through the supervisor (fresh isolate, setup
 * script, one sys.Log, IPC both ways). Run: node bin/run-ts.js bench/sandbox-micro.ts [runs]
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
const supervisor = new SandboxSupervisor();
await supervisor.start();
const params = { tenantId: 'bench', callId: 'bench', dialplanName: 'bench', js: compiled.js, sourceMap: compiled.sourceMap, req };
for (let i = 0; i < 20; i++) await supervisor.run(params, host);

const samples: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const result = await supervisor.run(params, host);
  samples.push(performance.now() - started);
  if (result.status !== 'completed') throw new Error(`run ${i}: ${JSON.stringify(result)}`);
}
await supervisor.stop();
samples.sort((a, b) => a - b);
const pick = (q: number): string => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0).toFixed(2);
console.log(`sandbox trivial dialplan x${runs}: p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${pick(1)} ms`);
