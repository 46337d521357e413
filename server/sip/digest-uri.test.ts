import { describe, expect, it } from 'vitest';
import { digestUriMatchesRequest } from './digest-uri.ts';
import { parseMessage } from './parser.ts';
import type { SipRequest } from './message.ts';

function register(uri: string, local?: string): SipRequest {
  const req = parseMessage(
    Buffer.from(
      `REGISTER ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\nFrom: <sip:1001@acme.test>;tag=a\r\nTo: <sip:1001@acme.test>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`,
    ),
  ) as SipRequest;
  if (local) req.localEndpoint = { transport: 'udp', address: local, port: 5060 };
  return req;
}

describe('digestUriMatchesRequest', () => {
  it('accepts the Request-URI itself, case-insensitively on the host', () => {
    expect(digestUriMatchesRequest('sip:ACME.test', register('sip:acme.test'))).toBe(true);
  });
  it('refuses another resource', () => {
    expect(digestUriMatchesRequest('sip:other.test', register('sip:acme.test', '192.0.2.1'))).toBe(false);
    expect(digestUriMatchesRequest('sip:1002@acme.test', register('sip:acme.test'))).toBe(false);
    expect(digestUriMatchesRequest('not a uri', register('sip:acme.test'))).toBe(false);
  });
  it("accepts the switch's own address as the resource", () => {
    expect(digestUriMatchesRequest('sip:192.0.2.1:5060', register('sip:acme.test', '192.0.2.1'))).toBe(true);
    expect(digestUriMatchesRequest('sip:198.51.100.7', register('sip:acme.test', '192.0.2.1'))).toBe(false);
  });
  it('accepts any IP literal when the listener is a wildcard (the address the phone used is unknown)', () => {
    expect(digestUriMatchesRequest('sip:198.51.100.7', register('sip:acme.test', '0.0.0.0'))).toBe(true);
    expect(digestUriMatchesRequest('sip:evil.test', register('sip:acme.test', '0.0.0.0'))).toBe(false);
  });
});
