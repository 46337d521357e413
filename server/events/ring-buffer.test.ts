import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ring-buffer.ts';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` entries in order and reports what it evicts', () => {
    const r = new RingBuffer<number>(3);
    expect([r.push(1), r.push(2), r.push(3)]).toEqual([undefined, undefined, undefined]);
    expect(r.push(4)).toBe(1);
    expect(r.push(5)).toBe(2);
    expect([...r]).toEqual([3, 4, 5]);
    expect(r.first()).toBe(3);
    expect(r.size).toBe(3);
  });

  it('finds the tail after a point by binary search, across the wrap', () => {
    const r = new RingBuffer<number>(4);
    for (let i = 1; i <= 10; i++) r.push(i);
    expect(r.tailFrom((n) => n > 8)).toEqual([9, 10]);
    expect(r.tailFrom((n) => n > 0)).toEqual([7, 8, 9, 10]);
    expect(r.tailFrom((n) => n > 10)).toEqual([]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});
