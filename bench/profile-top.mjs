// Prints the top frames of a V8 .cpuprofile (from BENCH_PROFILE_DIR) by self time and by total
// time, or of a .heapprofile (BENCH_ALLOC_PROFILE_DIR) by bytes allocated:
// `node bench/profile-top.mjs <file.cpuprofile|file.heapprofile> [count]`.
import { readFileSync } from 'node:fs';

const [file, countArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-top.mjs <file.cpuprofile> [count]');
  process.exit(2);
}
const count = Number(countArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const where = (f) => (f.url ? `${f.url.replace(/^.*\/(wt-[^/]+|main)\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}` : '');
if (file.endsWith('.heapprofile')) {
  // Sampled allocations (collected ones included): bytes per allocating frame, and per frame with its callers.
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  const walk = (node, stack) => {
    const l = `${node.callFrame.functionName || '(anonymous)'} ${where(node.callFrame)}`.trim();
    const here = [...stack, l];
    if (node.selfSize > 0) {
      total += node.selfSize;
      self.set(l, (self.get(l) ?? 0) + node.selfSize);
      for (const f of new Set(here)) inclusive.set(f, (inclusive.get(f) ?? 0) + node.selfSize);
    }
    for (const c of node.children ?? []) walk(c, here);
  };
  walk(profile.head, []);
  for (const [title, map] of [['allocated by (self)', self], ['allocated under (total)', inclusive]]) {
    console.log(`\n${title} (${(total / 1048576).toFixed(1)} MiB sampled)`);
    for (const [l, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${l}`);
  }
  process.exit(0);
}
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfSamples = new Map();
for (const id of profile.samples) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
const total = profile.samples.length;
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(wt-[^/]+|main)\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const self = new Map();
const inclusive = new Map();
for (const [id, samples] of selfSamples) {
  const n = byId.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + samples);
  // Each frame on the stack once per sample (recursion counted once).
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + samples);
  }
}
const show = (title, map) => {
  console.log(`\n${title} (${total} samples, ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s)`);
  for (const [l, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${l}`);
};
show('self time', self);
show('total time', inclusive);
