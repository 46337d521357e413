// Busy stretches of a V8 .cpuprofile: runs of samples with no (idle) between them longer than
// min-ms, each with its top frames, then the frames inside all of them (what stalls the loop).
// `node bench/profile-stalls.mjs <file.cpuprofile> [min-ms=40] [count=45]`
import { readFileSync } from 'node:fs';
const [file, minMsArg] = process.argv.slice(2);
const minMs = Number(minMsArg ?? 40);
if (!file) {
  console.error('usage: node bench/profile-stalls.mjs <file.cpuprofile> [min-ms] [count]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const names = new Map([...byId].map(([id, n]) => [id, n.callFrame.functionName]));
const isIdle = (id) => names.get(id) === '(idle)';
let t = p.startTime; const times = [];
for (const d of p.timeDeltas) { t += d; times.push(t); }
const counts = {};
for (const id of p.samples) counts[names.get(id)] = (counts[names.get(id)]||0)+1;
console.log('idle samples', counts['(idle)'], 'program', counts['(program)'], 'gc', counts['(garbage collector)'], 'total', p.samples.length);
const stretches = [];
let start = -1;
for (let i = 0; i < p.samples.length; i++) {
  if (!isIdle(p.samples[i])) { if (start < 0) start = i; }
  else if (start >= 0) { stretches.push([start, i]); start = -1; }
}
const label = (n) => { const f = n.callFrame; return `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(wt-[^/]+|main)\//, '')}:${f.lineNumber + 1}`; };
const long = stretches.filter(([a, b]) => (times[b] - times[a]) / 1000 >= minMs);
console.log(`busy stretches >= ${minMs} ms: ${long.length}`);
const agg = new Map(); let tot = 0;
for (const [a, b] of long) {
  const self = new Map();
  for (let i = a; i < b; i++) {
    const seen = new Set();
    for (let cur = p.samples[i]; cur !== undefined; cur = parent.get(cur)) { const l = label(byId.get(cur)); if (seen.has(l)) continue; seen.add(l); agg.set(l, (agg.get(l) ?? 0) + 1); }
    tot++;
    const l = label(byId.get(p.samples[i])); self.set(l, (self.get(l) ?? 0) + 1);
  }
  const top = [...self].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([l, n]) => `${Math.round(100*n/(b-a))}% ${l}`).join(' | ');
  console.log(`  ${((times[a]-p.startTime)/1e6).toFixed(2)}s +${((times[b]-times[a])/1000).toFixed(0)}ms: ${top}`);
}
console.log(`\ntotal-time frames inside long stretches (${tot} samples)`);
for (const [l, n] of [...agg].sort((x, y) => y[1] - x[1]).slice(0, Number(process.argv[4] ?? 45))) console.log(`${(100*n/tot).toFixed(1).padStart(5)} % ${l}`);
