/**
 * Heap snapshots of a running Patchbay for the memory benches (heap-step.ts, idle-memory.ts):
 * ask the process for one (it must run with `--heapsnapshot-signal=SIGUSR2` and a
 * `--diagnostic-dir`), then fold it into self size and count per constructor. BENCH_KEEP_SNAPSHOTS
 * names a directory where each snapshot is kept (they are deleted otherwise).
 */
import { copyFile, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface Totals { count: number; size: number }

/** Self size and count per constructor/type name from a .heapsnapshot (V8's JSON format). */
export function summarizeHeapSnapshot(text: string): Map<string, Totals> {
  const snap = JSON.parse(text) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, Totals>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${snap.strings[snap.nodes[i + nameAt]!]}` : `(${type})`;
    const t = out.get(name) ?? { count: 0, size: 0 };
    t.count++;
    t.size += snap.nodes[i + sizeAt]!;
    out.set(name, t);
  }
  return out;
}

/** SIGUSR2 to `pid`, waits for the new snapshot in `dir`, summarizes it and deletes the file. */
export async function takeHeapSnapshot(pid: number, dir: string, label: string, log: (line: string) => void): Promise<Map<string, Totals>> {
  const before = new Set(await readdir(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const fresh = (await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (fresh.length > 0) {
      const file = join(dir, fresh[0]!);
      // Written in one go; wait until its size stops changing.
      let last = -1;
      for (;;) {
        const size = (await readFile(file)).length;
        if (size === last && size > 0) break;
        last = size;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const summary = summarizeHeapSnapshot(await readFile(file, 'utf8'));
      const total = [...summary.values()].reduce((s, t) => s + t.size, 0);
      log(`  snapshot ${label}: ${(total / 1048576).toFixed(1)} MiB of objects`);
      // BENCH_KEEP_SNAPSHOTS=<dir>: keep the file there, to open in DevTools (Retainers).
      const keepDir = process.env.BENCH_KEEP_SNAPSHOTS;
      if (keepDir) await copyFile(file, join(keepDir, `${label.replace(/\W+/g, '-')}.heapsnapshot`));
      await rm(file);
      return summary;
    }
    if (Date.now() > deadline) throw new Error('no heap snapshot written');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The `top` largest rows of a summary (or of a diff), as printable lines. */
export function topRows(rows: { name: string; count: number; size: number }[], top: number): string[] {
  return rows.sort((x, y) => y.size - x.size).slice(0, top).map((r) => `  ${(r.size / 1024).toFixed(0).padStart(8)} KiB  ${String(r.count).padStart(8)}  ${r.name}`);
}
