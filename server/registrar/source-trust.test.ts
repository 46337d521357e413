import { describe, expect, it } from 'vitest';
import { sourceTrust } from './source-trust.ts';

const fenced = { allowedCidrs: ['192.0.2.0/24', '2001:db8::/32'] };

describe('sourceTrust', () => {
  it('needs the digest when the account names no networks', () => {
    expect(sourceTrust({ allowedCidrs: [] }, { transport: 'tcp', address: '192.0.2.1' })).toBe('digest-required');
    expect(sourceTrust({ allowedCidrs: [] }, undefined)).toBe('digest-required');
  });
  it('trusts an allowed source alone over TCP, TLS, WS and WSS', () => {
    for (const transport of ['tcp', 'tls', 'ws', 'wss'] as const) {
      expect(sourceTrust(fenced, { transport, address: '192.0.2.9' })).toBe('trusted');
    }
    expect(sourceTrust(fenced, { transport: 'tls', address: '2001:db8::7' })).toBe('trusted');
    expect(sourceTrust(fenced, { transport: 'tcp', address: '::ffff:192.0.2.9' })).toBe('trusted');
  });
  it('over UDP requires the digest on top, unless the account opted in', () => {
    expect(sourceTrust(fenced, { transport: 'udp', address: '192.0.2.9' })).toBe('digest-required');
    expect(sourceTrust({ ...fenced, trustUdpSource: false }, { transport: 'udp', address: '192.0.2.9' })).toBe('digest-required');
    expect(sourceTrust({ ...fenced, trustUdpSource: true }, { transport: 'udp', address: '192.0.2.9' })).toBe('trusted');
  });
  it('forbids a source outside the networks on every transport, and an unknown source', () => {
    expect(sourceTrust(fenced, { transport: 'tcp', address: '198.51.100.1' })).toBe('forbidden');
    expect(sourceTrust({ ...fenced, trustUdpSource: true }, { transport: 'udp', address: '198.51.100.1' })).toBe('forbidden');
    expect(sourceTrust(fenced, undefined)).toBe('forbidden');
  });
});
