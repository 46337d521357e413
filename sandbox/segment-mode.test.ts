import { describe, expect, it } from 'vitest';
import { SegmentModePolicy } from './segment-mode.ts';

describe('SegmentModePolicy', () => {
  it('sends a tenant to the pool at once after a very long segment, until the time is up', () => {
    let now = 1_000;
    const policy = new SegmentModePolicy({ demoteAtMs: 50, strikeAtMs: 10, asyncForMs: 60_000 }, () => now);
    expect(policy.syncFor('a')).toBe(true);
    policy.recordSync('a', 9.9);
    policy.recordSync('a', 10);
    expect(policy.syncFor('a')).toBe(true);
    policy.recordSync('a', 50.1);
    expect(policy.syncFor('a')).toBe(false);
    expect(policy.syncFor('b')).toBe(true);
    now += 59_999;
    expect(policy.syncFor('a')).toBe(false);
    now += 1;
    expect(policy.syncFor('a')).toBe(true);
    expect(policy.demoted).toBe(0);
  });

  it('a long segment is a strike: the third within the window demotes, older ones are forgotten', () => {
    let now = 0;
    const policy = new SegmentModePolicy({ demoteAtMs: 50, strikeAtMs: 10, strikes: 3, strikeWindowMs: 1_000 }, () => now);
    policy.recordSync('a', 20);
    now += 600;
    policy.recordSync('a', 20);
    now += 600;
    policy.recordSync('a', 20);
    expect(policy.syncFor('a')).toBe(true);
    now += 100;
    policy.recordSync('a', 20);
    expect(policy.syncFor('a')).toBe(false);
  });

  it('each repeat doubles the stay, up to the longest', () => {
    let now = 0;
    const policy = new SegmentModePolicy({ demoteAtMs: 1, strikeAtMs: 1, asyncForMs: 1_000, maxAsyncForMs: 3_000 }, () => now);
    const stay = (): number => {
      policy.recordSync('a', 2);
      const from = now;
      while (!policy.syncFor('a')) now += 100;
      return now - from;
    };
    expect([stay(), stay(), stay(), stay()]).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it('a NaN or negative measurement counts for nothing', () => {
    const policy = new SegmentModePolicy({ strikes: 1 });
    policy.recordSync('a', Number.NaN);
    policy.recordSync('a', -1);
    expect(policy.syncFor('a')).toBe(true);
  });

  it('remembers at most maxRemembered tenants, forgetting the least recently struck first', () => {
    const policy = new SegmentModePolicy({ demoteAtMs: 1, maxRemembered: 2 });
    policy.recordSync('a', 20);
    policy.recordSync('b', 20);
    policy.recordSync('a', 20);
    policy.recordSync('c', 20);
    expect(policy.demoted).toBe(2);
    expect([policy.syncFor('a'), policy.syncFor('b'), policy.syncFor('c')]).toEqual([false, true, false]);
  });
});
