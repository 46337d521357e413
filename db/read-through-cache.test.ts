import { describe, expect, it } from 'vitest';
import { DatabaseHealth } from './database-health.ts';
import { ReadThroughCache } from './read-through-cache.ts';

/** A repository read that answers until the database "goes away", then throws like mysql2 does. */
function flakyRead() {
  const state = { up: true, value: 'v1', reads: 0 };
  const read = async () => {
    state.reads++;
    if (!state.up) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', fatal: true });
    return state.value;
  };
  return { state, read };
}

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ReadThroughCache during a database outage', () => {
  it('serves the last known value when the refresh throws, and the new one once the database is back', async () => {
    const c = clock();
    const health = new DatabaseHealth({ probe: async () => {}, now: c.now });
    const cache = new ReadThroughCache<string>({ freshMs: 2_000, health, now: c.now });
    const { state, read } = flakyRead();
    expect(await cache.get('k', read)).toBe('v1');

    state.up = false;
    c.advance(5_000);
    expect(await cache.get('k', read)).toBe('v1');
    expect(health.reachable).toBe(false);
    // While it is down (backoff not over) nobody waits on the database.
    const readsWhileDown = state.reads;
    expect(await cache.get('k', read)).toBe('v1');
    expect(state.reads).toBe(readsWhileDown);

    state.up = true;
    state.value = 'v2';
    health.reportSuccess();
    expect(await cache.get('k', read)).toBe('v2');
    health.close();
  });

  it('an invalidated entry is re-read at once, but still answers if that read fails', async () => {
    const cache = new ReadThroughCache<string>({ freshMs: 60_000 });
    const { state, read } = flakyRead();
    await cache.get('a', read);
    state.value = 'v2';
    cache.invalidate((k) => k === 'a');
    expect(await cache.get('a', read)).toBe('v2');
    state.up = false;
    cache.invalidate();
    expect(await cache.get('a', read)).toBe('v2');
  });

  it('a key never read before still needs the database (there is nothing to serve)', async () => {
    const cache = new ReadThroughCache<string>({ freshMs: 60_000 });
    const { state, read } = flakyRead();
    state.up = false;
    await expect(cache.get('new', read)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a read that does not answer within maxWaitMs is not waited for', async () => {
    const c = clock();
    const cache = new ReadThroughCache<string>({ freshMs: 1, maxWaitMs: 20, now: c.now });
    await cache.get('k', async () => 'old');
    c.advance(10);
    let answer!: (v: string) => void;
    const hanging = new Promise<string>((resolve) => (answer = resolve));
    expect(await cache.get('k', () => hanging)).toBe('old');
    answer('late');
    await hanging;
    await new Promise((r) => setImmediate(r));
    c.advance(0);
    // The late answer landed in the cache (fresh now, so no read is made).
    expect(await cache.get('k', async () => 'unused')).toBe('late');
  });

  it('stays within maxEntries', async () => {
    const cache = new ReadThroughCache<number>({ freshMs: 60_000, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await cache.get(`k${i}`, async () => i);
    expect(cache.size).toBe(3);
  });
});

describe('DatabaseHealth', () => {
  it('only unreachable-type errors mark the database down; the probe brings it back and tells listeners', async () => {
    let probeOk = false;
    const health = new DatabaseHealth({ probe: async () => { if (!probeOk) throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' }); }, minBackoffMs: 5, maxBackoffMs: 10 });
    health.reportFailure(new Error('Duplicate entry'));
    expect(health.reachable).toBe(true);
    health.reportFailure(Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }));
    expect(health.state()).toMatchObject({ reachable: false, lastError: 'Connection lost' });
    const recovered = new Promise<void>((resolve) => health.onRecovered(resolve));
    probeOk = true;
    await recovered;
    expect(health.reachable).toBe(true);
    health.close();
  });
});
