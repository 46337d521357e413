import { describe, expect, it } from 'vitest';
import { AccountCallCounter } from './account-call-counter.ts';

describe('AccountCallCounter', () => {
  it('limits distinct calls per account and frees slots on release and call end', () => {
    const c = new AccountCallCounter();
    expect(c.tryTake(1, 'a', 2)).toBe(true);
    expect(c.tryTake(1, 'a', 2)).toBe(true);
    expect(c.tryTake(1, 'b', 2)).toBe(true);
    expect(c.tryTake(1, 'c', 2)).toBe(false);
    expect(c.count(1)).toBe(2);
    c.release(1, 'a');
    expect(c.tryTake(1, 'c', 2)).toBe(false);
    c.release(1, 'a');
    expect(c.tryTake(1, 'c', 2)).toBe(true);
    c.releaseCall('b');
    c.releaseCall('c');
    expect(c.count(1)).toBe(0);
  });

  it('treats null and 0 as no limit', () => {
    const c = new AccountCallCounter();
    for (let i = 0; i < 5; i++) expect(c.tryTake(1, `x${i}`, 0)).toBe(true);
    for (let i = 0; i < 5; i++) expect(c.tryTake(2, `x${i}`, null)).toBe(true);
  });
});
