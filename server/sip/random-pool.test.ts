import { describe, expect, it } from 'vitest';
import { RandomPool } from './random-pool.ts';
import { newBranch, newCallId, newTag } from './message.ts';

describe('RandomPool', () => {
  it('hands out 100k unique base64url tokens across many refills', () => {
    const pool = new RandomPool(256);
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(pool.token(8));
    expect(seen.size).toBe(100_000);
    for (const t of [...seen].slice(0, 100)) expect(t).toMatch(/^[A-Za-z0-9_-]{11}$/);
  });

  it('never hands the same bytes out twice and serves requests larger than the pool', () => {
    const pool = new RandomPool(32);
    const a = Buffer.alloc(16);
    const b = Buffer.alloc(16);
    pool.fill(a);
    pool.fill(b);
    expect(a.equals(b)).toBe(false);
    const big = Buffer.alloc(100);
    pool.fill(big, 10, 80);
    expect(big.subarray(0, 10).equals(Buffer.alloc(10))).toBe(true);
    expect(big.subarray(90).equals(Buffer.alloc(10))).toBe(true);
    expect(big.subarray(10, 90).equals(Buffer.alloc(80))).toBe(false);
    expect(pool.token(48)).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });

  it('SIP tokens keep their format and stay unique', () => {
    const branches = new Set<string>();
    const tags = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      branches.add(newBranch());
      tags.add(newTag());
    }
    expect(branches.size).toBe(100_000);
    expect(tags.size).toBe(100_000);
    expect(newBranch()).toMatch(/^z9hG4bK[A-Za-z0-9_-]{16}$/);
    expect(newTag()).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(newCallId('pbx.example.com')).toMatch(/^[A-Za-z0-9_-]{20}@pbx\.example\.com$/);
  });
});
