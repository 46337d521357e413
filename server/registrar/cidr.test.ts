import { describe, expect, it } from 'vitest';
import { CidrSet } from './cidr.ts';

describe('CidrSet', () => {
  it('matches IPv4, IPv6, bare addresses and IPv4-mapped IPv6 sources', () => {
    const set = new CidrSet(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7', '[2001:db8:ffff::1]/128']);
    expect(set.contains('10.200.1.1')).toBe(true);
    expect(set.contains('11.0.0.1')).toBe(false);
    expect(set.contains('2001:db8:1::5')).toBe(true);
    expect(set.contains('2001:db9::5')).toBe(false);
    expect(set.contains('192.0.2.7')).toBe(true);
    expect(set.contains('192.0.2.8')).toBe(false);
    expect(set.contains('::ffff:10.1.2.3')).toBe(true);
    expect(set.contains('not-an-ip')).toBe(false);
  });

  it('reports invalid entries instead of trusting them', () => {
    const set = new CidrSet(['10.0.0.0/33', 'example.com', '0.0.0.0/x', '']);
    expect(set.invalid).toEqual(['10.0.0.0/33', 'example.com', '0.0.0.0/x']);
    expect(set.size).toBe(0);
    expect(set.contains('10.0.0.1')).toBe(false);
  });
});
