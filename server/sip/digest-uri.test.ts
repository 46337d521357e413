import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { digestUriMatchesRequest } from './digest-uri.ts';
import { parseMessage } from './parser.ts';
import type { SipRequest } from './message.ts';

function register(uri: string, local?: string, port = 5060): SipRequest {
  const req = parseMessage(
    Buffer.from(
      `REGISTER ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\nFrom: <sip:1001@acme.test>;tag=a\r\nTo: <sip:1001@acme.test>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`,
    ),
  ) as SipRequest;
  if (local) req.localEndpoint = { transport: 'udp', address: local, port };
  return req;
}

/** An address of this machine that is not loopback, if it has one. */
function ownNonLoopbackV4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return undefined;
}

describe('digestUriMatchesRequest', () => {
  it('accepts the Request-URI itself, case-insensitively on the host', () => {
    expect(digestUriMatchesRequest('sip:ACME.test', register('sip:acme.test'))).toBe(true);
    expect(digestUriMatchesRequest('sip:1001@acme.test:5080', register('sip:1001@acme.test:5080'))).toBe(true);
  });

  it('refuses another resource: host, user, port or scheme differing', () => {
    expect(digestUriMatchesRequest('sip:other.test', register('sip:acme.test', '192.0.2.1'))).toBe(false);
    expect(digestUriMatchesRequest('sip:1002@acme.test', register('sip:acme.test'))).toBe(false);
    expect(digestUriMatchesRequest('sip:1002@acme.test', register('sip:1001@acme.test'))).toBe(false);
    expect(digestUriMatchesRequest('sip:acme.test:5070', register('sip:acme.test'))).toBe(false);
    expect(digestUriMatchesRequest('sips:acme.test', register('sip:acme.test'))).toBe(false);
    expect(digestUriMatchesRequest('not a uri', register('sip:acme.test'))).toBe(false);
  });

  it("accepts the switch's own address as the resource, whatever port a NAT made the phone dial", () => {
    expect(digestUriMatchesRequest('sip:192.0.2.1:5060', register('sip:acme.test', '192.0.2.1'))).toBe(true);
    expect(digestUriMatchesRequest('sip:192.0.2.1', register('sip:acme.test', '192.0.2.1'))).toBe(true);
    expect(digestUriMatchesRequest('sip:192.0.2.1:5080', register('sip:acme.test', '192.0.2.1'))).toBe(true);
    expect(digestUriMatchesRequest('sips:192.0.2.1', register('sip:acme.test', '192.0.2.1'))).toBe(false);
    expect(digestUriMatchesRequest('sip:198.51.100.7', register('sip:acme.test', '192.0.2.1'))).toBe(false);
  });

  it("still compares the user when the digest uri names the switch's address", () => {
    // An answer a victim computed for "their" resource at the switch must not authenticate 1001.
    expect(digestUriMatchesRequest('sip:1002@192.0.2.1', register('sip:1001@acme.test', '192.0.2.1'))).toBe(false);
    expect(digestUriMatchesRequest('sip:1002@192.0.2.1', register('sip:acme.test', '192.0.2.1'))).toBe(false);
    expect(digestUriMatchesRequest('sip:1001@192.0.2.1', register('sip:1001@acme.test', '192.0.2.1'))).toBe(true);
  });

  it('with a wildcard listener accepts only addresses of this machine, not any IP literal', () => {
    expect(digestUriMatchesRequest('sip:198.51.100.7', register('sip:acme.test', '0.0.0.0'))).toBe(false);
    expect(digestUriMatchesRequest('sip:198.51.100.7', register('sip:acme.test', '::'))).toBe(false);
    expect(digestUriMatchesRequest('sip:evil.test', register('sip:acme.test', '0.0.0.0'))).toBe(false);
    expect(digestUriMatchesRequest('sip:127.0.0.1', register('sip:acme.test', '0.0.0.0'))).toBe(true);
    expect(digestUriMatchesRequest('sip:[::1]', register('sip:acme.test', '0.0.0.0'))).toBe(false);
    const own = ownNonLoopbackV4();
    if (own) expect(digestUriMatchesRequest(`sip:${own}`, register('sip:acme.test', '0.0.0.0'))).toBe(true);
  });

  it('accepts configured own host names (public address behind NAT)', () => {
    const req = register('sip:acme.test', '0.0.0.0');
    expect(digestUriMatchesRequest('sip:203.0.113.9', req, { ownHosts: ['203.0.113.9'] })).toBe(true);
    expect(digestUriMatchesRequest('sip:sbc.acme.test', req, { ownHosts: ['SBC.acme.test'] })).toBe(true);
    expect(digestUriMatchesRequest('sip:203.0.113.10', req, { ownHosts: ['203.0.113.9'] })).toBe(false);
  });
});
