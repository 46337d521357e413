import { afterEach, describe, expect, it } from 'vitest';
import { IsolatePool, type IsolatePoolOptions, type PoolableIsolate } from './isolate-pool.ts';

class FakeIsolate implements PoolableIsolate {
  isDisposed = false;
  cpuTime = 0n;
  constructor(readonly id: number, readonly memoryMiB: number) {}
  dispose(): void {
    this.isDisposed = true;
  }
}

let pool: IsolatePool<FakeIsolate> | undefined;
let created: FakeIsolate[] = [];
let clock = 0;

function makePool(options: Partial<IsolatePoolOptions> = {}): IsolatePool<FakeIsolate> {
  created = [];
  clock = 1_000;
  pool = new IsolatePool(
    async (memoryMiB) => {
      const isolate = new FakeIsolate(created.length + 1, memoryMiB);
      created.push(isolate);
      return isolate;
    },
    { sweepIntervalMs: 60_000, spares: 0, ...options },
    () => clock,
  );
  return pool;
}

afterEach(() => pool?.close());

describe('IsolatePool', () => {
  it('lends an idle isolate again only to the tenant it was created for', async () => {
    const isolates = makePool();
    const a = await isolates.acquire('tenant-a', 32);
    isolates.release(a, true);
    const b = await isolates.acquire('tenant-b', 32);
    expect(b.isolate).not.toBe(a.isolate);
    isolates.release(b, true);
    const again = await isolates.acquire('tenant-a', 32);
    expect(again.isolate).toBe(a.isolate);
    expect(again.uses).toBe(2);
    expect(created).toHaveLength(2);
  });

  it('never lends one isolate to two executions at once', async () => {
    const isolates = makePool();
    const first = await isolates.acquire('tenant-a', 32);
    const second = await isolates.acquire('tenant-a', 32);
    expect(second.isolate).not.toBe(first.isolate);
    isolates.release(first, true);
    isolates.release(second, true);
    expect(isolates.idleFor('tenant-a')).toBe(2);
  });

  it('keeps isolates of another memory limit apart', async () => {
    const isolates = makePool();
    const small = await isolates.acquire('tenant-a', 16);
    isolates.release(small, true);
    const large = await isolates.acquire('tenant-a', 32);
    expect(large.isolate).not.toBe(small.isolate);
    expect(large.isolate.memoryMiB).toBe(32);
  });

  it('disposes an isolate released after a failure, and a released lease twice changes nothing', async () => {
    const isolates = makePool();
    const lease = await isolates.acquire('tenant-a', 32);
    isolates.release(lease, false);
    expect(lease.isolate.isDisposed).toBe(true);
    isolates.release(lease, true);
    expect(isolates.idleIsolates).toBe(0);
  });

  it('disposes an isolate after its last allowed use', async () => {
    const isolates = makePool({ maxUsesPerIsolate: 2 });
    const first = await isolates.acquire('tenant-a', 32);
    isolates.release(first, true);
    const second = await isolates.acquire('tenant-a', 32);
    expect(second.isolate).toBe(first.isolate);
    isolates.release(second, true);
    expect(first.isolate.isDisposed).toBe(true);
    const third = await isolates.acquire('tenant-a', 32);
    expect(third.isolate).not.toBe(first.isolate);
  });

  it('never lends an isolate that used CPU while idle', async () => {
    const isolates = makePool();
    const lease = await isolates.acquire('tenant-a', 32);
    isolates.release(lease, true);
    lease.isolate.cpuTime += 1_000n;
    const tolerated = await isolates.acquire('tenant-a', 32);
    expect(tolerated.isolate).toBe(lease.isolate);
    isolates.release(tolerated, true);
    lease.isolate.cpuTime += 50_000_000n;
    const next = await isolates.acquire('tenant-a', 32);
    expect(next.isolate).not.toBe(lease.isolate);
    expect(lease.isolate.isDisposed).toBe(true);
  });

  it('the sweep disposes expired isolates and ones that ran while idle', async () => {
    const isolates = makePool({ idleMs: 5_000 });
    const [a, b, c] = [await isolates.acquire('t', 32), await isolates.acquire('t', 32), await isolates.acquire('u', 32)];
    isolates.release(a, true);
    clock += 4_000;
    isolates.release(b, true);
    isolates.release(c, true);
    c.isolate.cpuTime += 10_000_000n;
    clock += 2_000;
    isolates.sweep();
    expect([a.isolate.isDisposed, b.isolate.isDisposed, c.isolate.isDisposed]).toEqual([true, false, true]);
    expect(isolates.idleIsolates).toBe(1);
  });

  it('bounds idle isolates per tenant and in all, evicting the least recently used', async () => {
    const isolates = makePool({ maxIdlePerTenant: 2, maxIdle: 3, overCapGraceMs: 0 });
    const leases = [await isolates.acquire('t', 32), await isolates.acquire('t', 32), await isolates.acquire('t', 32)];
    for (const lease of leases) isolates.release(lease, true);
    expect(isolates.idleFor('t')).toBe(2);
    expect(leases[2]?.isolate.isDisposed).toBe(true);
    clock += 1;
    const u = [await isolates.acquire('u', 32), await isolates.acquire('u', 32)];
    for (const lease of u) isolates.release(lease, true);
    expect(isolates.idleIsolates).toBe(3);
    expect(leases[0]?.isolate.isDisposed).toBe(true);
    expect(isolates.idleFor('t')).toBe(1);
    expect(isolates.idleFor('u')).toBe(2);
  });

  it('keeps idle isolates beyond maxIdle (up to twice as many) while the oldest idle one was in use within the grace, and trims them after it', async () => {
    const isolates = makePool({ maxIdlePerTenant: 10, maxIdle: 2, overCapGraceMs: 1_000 });
    const leases = await Promise.all(Array.from({ length: 6 }, () => isolates.acquire('t', 32)));
    for (const lease of leases.slice(0, 4)) isolates.release(lease, true);
    expect(isolates.idleIsolates).toBe(4);
    expect(leases.slice(0, 4).map((l) => l.isolate.isDisposed)).toEqual([false, false, false, false]);
    // Twice maxIdle is the hard bound: the oldest goes at once.
    isolates.release(leases[4]!, true);
    expect(isolates.idleIsolates).toBe(4);
    expect(leases[0]?.isolate.isDisposed).toBe(true);
    clock += 999;
    isolates.sweep();
    expect(isolates.idleIsolates).toBe(4);
    clock += 1;
    isolates.sweep();
    expect(isolates.idleIsolates).toBe(2);
    expect(leases.slice(1, 5).map((l) => l.isolate.isDisposed)).toEqual([true, true, false, false]);
    // Past the grace, a release beyond maxIdle evicts the least recently used again.
    isolates.release(leases[5]!, true);
    expect(isolates.idleIsolates).toBe(2);
    expect(leases[3]?.isolate.isDisposed).toBe(true);
    const again = await isolates.acquire('t', 32);
    expect([leases[4]!.isolate, leases[5]!.isolate]).toContain(again.isolate);
  });

  it('close disposes every idle isolate', async () => {
    const isolates = makePool();
    const lease = await isolates.acquire('tenant-a', 32);
    isolates.release(lease, true);
    isolates.close();
    expect(lease.isolate.isDisposed).toBe(true);
    expect(isolates.idleIsolates).toBe(0);
  });

  it('makes a spare ahead, off the path of the execution that asked, and lends it to the next tenant that needs a new isolate', async () => {
    const isolates = makePool({ spares: 1 });
    const a = await isolates.acquire('tenant-a', 32);
    expect(created).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.resolve();
    expect(isolates.spareCount).toBe(1);
    const spare = created[1];
    // A tenant with an idle isolate of its own gets that one, never the spare.
    isolates.release(a, true);
    expect((await isolates.acquire('tenant-a', 32)).isolate).toBe(a.isolate);
    const b = await isolates.acquire('tenant-b', 32);
    expect(b.isolate).toBe(spare);
    expect(b.uses).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.resolve();
    expect(isolates.spareCount).toBe(1);
    expect(created).toHaveLength(3);
  });

  it('keeps spares for two memory limits at most, and close disposes them', async () => {
    const isolates = makePool({ spares: 1 });
    for (const memory of [16, 32, 64]) {
      isolates.release(await isolates.acquire('tenant-a', memory), false);
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.resolve();
    }
    expect(isolates.spareCount).toBe(2);
    const spares = created.filter((isolate) => !isolate.isDisposed);
    expect(spares.map((isolate) => isolate.memoryMiB).sort()).toEqual([32, 64]);
    isolates.close();
    expect(created.every((isolate) => isolate.isDisposed)).toBe(true);
  });
});

describe('IsolatePool under a burst', () => {
  it('makes at most maxCreating isolates at once; the others wait and get an isolate a finished run gives back', async () => {
    const pending: Array<(isolate: FakeIsolate) => void> = [];
    const made: FakeIsolate[] = [];
    const isolates = new IsolatePool<FakeIsolate>(
      (memoryMiB) => new Promise((resolve) => pending.push((iso) => resolve(iso)) && void memoryMiB),
      { sweepIntervalMs: 60_000, spares: 0, maxCreating: 2 },
    );
    pool = isolates;
    const resolveNext = () => {
      const isolate = new FakeIsolate(made.length + 1, 32);
      made.push(isolate);
      pending.shift()!(isolate);
    };
    const leases = Array.from({ length: 10 }, () => isolates.acquire('tenant-a', 32));
    await Promise.resolve();
    expect(pending).toHaveLength(2);
    expect(isolates.waiting).toBe(10);
    resolveNext();
    const first = await leases[0]!;
    expect(first.isolate).toBe(made[0]);
    // The next creation starts at once for the next waiter, never more than two in flight.
    expect(pending).toHaveLength(2);
    // A run that ends hands its isolate straight to the oldest waiter of its tenant.
    isolates.release(first, true);
    const second = await leases[1]!;
    expect(second.isolate).toBe(made[0]);
    expect(second.uses).toBe(2);
    expect(isolates.idleFor('tenant-a')).toBe(0);
    for (let i = 2; i < 10; i++) {
      isolates.release(i === 2 ? second : await leases[i - 1]!, true);
      await leases[i];
    }
    expect(isolates.waiting).toBe(0);
    expect(made).toHaveLength(1);
  });

  it('never hands an isolate to a waiter of another tenant, and a failed creation fails the oldest waiter only', async () => {
    let calls = 0;
    const made: FakeIsolate[] = [];
    const isolates = new IsolatePool<FakeIsolate>(
      async (memoryMiB) => {
        calls++;
        if (calls === 1) throw new Error('no memory');
        const isolate = new FakeIsolate(calls, memoryMiB);
        made.push(isolate);
        return isolate;
      },
      { sweepIntervalMs: 60_000, spares: 0, maxCreating: 1 },
    );
    pool = isolates;
    const a = isolates.acquire('tenant-a', 32);
    const b = isolates.acquire('tenant-b', 32);
    await expect(a).rejects.toThrow('no memory');
    const leaseB = await b;
    const a2 = isolates.acquire('tenant-a', 32);
    isolates.release(leaseB, true);
    // tenant-b's isolate goes idle for tenant-b; tenant-a gets a new one.
    const leaseA2 = await a2;
    expect(leaseA2.isolate).not.toBe(leaseB.isolate);
    expect(isolates.idleFor('tenant-b')).toBe(1);
  });

  it('close fails the executions still waiting', async () => {
    const isolates = new IsolatePool<FakeIsolate>(() => new Promise(() => {}), { sweepIntervalMs: 60_000, spares: 0, maxCreating: 1 });
    pool = isolates;
    const waiting = isolates.acquire('tenant-a', 32);
    isolates.close();
    await expect(waiting).rejects.toThrow('closed');
  });
});
