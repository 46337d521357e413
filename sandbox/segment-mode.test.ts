import { describe, expect, it } from 'vitest';
import { SegmentModePolicy } from './segment-mode.ts';

describe('SegmentModePolicy', () => {
  it('keeps a tenant on the worker thread while its segments are short, and sends it to the pool after a long one until the time is up', () => {
    let now = 1_000;
    const policy = new SegmentModePolicy({ longSegmentMs: 5, asyncForMs: 60_000 }, () => now);
    expect(policy.syncFor('a')).toBe(true);
    policy.recordSync('a', 4.9);
    policy.recordSync('a', 5);
    expect(policy.syncFor('a')).toBe(true);
    policy.recordSync('a', 5.1);
    expect(policy.syncFor('a')).toBe(false);
    expect(policy.syncFor('b')).toBe(true);
    now += 59_999;
    expect(policy.syncFor('a')).toBe(false);
    now += 1;
    expect(policy.syncFor('a')).toBe(true);
    expect(policy.demoted).toBe(0);
  });

  it('each repeat doubles the stay, up to the longest', () => {
    let now = 0;
    const policy = new SegmentModePolicy({ longSegmentMs: 1, asyncForMs: 1_000, maxAsyncForMs: 3_000 }, () => now);
    const stay = (): number => {
      policy.recordSync('a', 2);
      const from = now;
      while (!policy.syncFor('a')) now += 100;
      return now - from;
    };
    expect([stay(), stay(), stay(), stay()]).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it('a NaN or negative measurement demotes nobody', () => {
    const policy = new SegmentModePolicy();
    policy.recordSync('a', Number.NaN);
    policy.recordSync('a', -1);
    expect(policy.syncFor('a')).toBe(true);
  });

  it('remembers at most maxDemoted tenants, forgetting the least recently demoted first', () => {
    const policy = new SegmentModePolicy({ longSegmentMs: 1, maxDemoted: 2 });
    policy.recordSync('a', 10);
    policy.recordSync('b', 10);
    policy.recordSync('a', 10);
    policy.recordSync('c', 10);
    expect(policy.demoted).toBe(2);
    expect([policy.syncFor('a'), policy.syncFor('b'), policy.syncFor('c')]).toEqual([false, true, false]);
  });
});
