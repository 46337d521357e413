import { describe, expect, it } from 'vitest';
import { SourceRateLimiter } from './source-rate-limiter.ts';

describe('SourceRateLimiter (pike-like)', () => {
  it('lets a burst through, then the sustained rate, per source', () => {
    let now = 0;
    const limiter = new SourceRateLimiter({ ratePerSec: 10, burst: 20, now: () => now });
    const sent = (n: number, from = '192.0.2.1') => Array.from({ length: n }, () => limiter.allow(from)).filter(Boolean).length;
    expect(sent(30)).toBe(20);
    expect(sent(5, '192.0.2.2')).toBe(5); // another source is not affected
    now += 1000;
    expect(sent(30)).toBe(10);
    expect(limiter.dropped).toBe(30);
  });

  it('counts an IPv6 /64 as one source and exempts trusted networks', () => {
    const limiter = new SourceRateLimiter({ ratePerSec: 1, burst: 2, isExempt: (a) => a.startsWith('10.'), now: () => 0 });
    expect([limiter.allow('2001:db8::1'), limiter.allow('2001:db8::2'), limiter.allow('2001:db8::3')]).toEqual([true, true, false]);
    expect(Array.from({ length: 100 }, () => limiter.allow('10.1.2.3')).every(Boolean)).toBe(true);
  });

  it('is off at rate 0 and keeps its table bounded', () => {
    const off = new SourceRateLimiter({ ratePerSec: 0 });
    expect(Array.from({ length: 1000 }, () => off.allow('192.0.2.1')).every(Boolean)).toBe(true);
    const small = new SourceRateLimiter({ ratePerSec: 5, maxTracked: 100 });
    for (let i = 0; i < 10_000; i++) small.allow(`198.51.${i >> 8}.${i & 255}`);
    expect(small.trackedSources).toBe(100);
  });
});
