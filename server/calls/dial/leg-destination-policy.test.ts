import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../sip/index.ts';
import { LegDestinationPolicy, networkBlockList } from './leg-destination-policy.ts';

const udp = (address: string, port = 5060): Endpoint => ({ transport: 'udp', address, port });

describe('LegDestinationPolicy', () => {
  const strict = new LegDestinationPolicy({ listeners: () => [{ host: '0.0.0.0', port: 5060 }] });

  it.each([
    ['127.0.0.1', 'loopback'], ['::1', 'loopback'], ['::ffff:127.0.0.1', 'loopback'], ['10.0.0.1', 'private'],
    ['192.168.1.1', 'private'], ['172.16.0.1', 'private'], ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
    ['0.0.0.0', ''], ['::', ''], ['100.64.0.1', 'cgnat'], ['224.0.0.1', 'multicast'], ['fd00::1', 'private'],
  ])('refuses %s without an allow-list', (address, cls) => {
    expect(strict.problem(udp(address, 5070))).toMatch(cls);
    expect(strict.problem(udp(address))).toBeDefined();
  });

  it('allows public addresses only on the SIP port of the transport', () => {
    expect(strict.problem(udp('203.0.113.7'))).toBeUndefined();
    expect(strict.problem({ transport: 'tls', address: '203.0.113.7', port: 5061 })).toBeUndefined();
    expect(strict.problem({ transport: 'tcp', address: '203.0.113.7', port: 6379 })).toMatch(/port 6379/);
    expect(strict.problem({ transport: 'tls', address: '203.0.113.7', port: 5060 })).toMatch(/port 5060/);
    expect(strict.problem(udp('2001:db8::1', 5080))).toMatch(/port 5080/);
  });

  it('lets an allow-listed network through on any port, but never to the switch itself', () => {
    const lab = new LegDestinationPolicy({
      allowedNetworks: ['127.0.0.0/8', '10.20.0.0/16', 'fd00::/8'],
      listeners: () => [{ host: '127.0.0.1', port: 5090 }, { host: '0.0.0.0', port: 5095 }],
    });
    expect(lab.problem({ transport: 'tcp', address: '127.0.0.1', port: 6379 })).toBeUndefined();
    expect(lab.problem(udp('10.20.3.4', 1234))).toBeUndefined();
    expect(lab.problem(udp('fd12::5', 7000))).toBeUndefined();
    expect(lab.problem(udp('10.21.0.1'))).toMatch(/private/);
    expect(lab.problem(udp('127.0.0.1', 5090))).toMatch(/this switch/);
    expect(lab.problem(udp('127.0.0.5', 5095))).toBeUndefined(); // not one of this host's addresses
    expect(lab.problem(udp('127.0.0.1', 5095))).toMatch(/this switch/);
  });

  it('rejects malformed networks', () => {
    expect(() => networkBlockList(['10.0.0.0/33'])).toThrow(/prefix/);
    expect(() => networkBlockList(['example.com/8'])).toThrow(/not an IP network/);
    expect(networkBlockList(['192.0.2.1']).check('192.0.2.1')).toBe(true);
  });
});
