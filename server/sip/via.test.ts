import { describe, expect, it } from 'vitest';
import { formatVia, parseVia } from './via.ts';

describe('parseVia', () => {
  it('parses transport, sent-by, branch, received, rport', () => {
    const [v] = parseVia('SIP/2.0/udp pc33.Atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5067;ttl=3');
    expect(v).toEqual({
      protocol: 'SIP/2.0', transport: 'UDP', host: 'pc33.atlanta.com', port: 5066,
      branch: 'z9hG4bK776asdhds', received: '192.0.2.1', rport: 5067,
      params: { branch: 'z9hG4bK776asdhds', received: '192.0.2.1', rport: '5067', ttl: '3' },
    });
  });
  it('rport without value is null, absent is undefined', () => {
    expect(parseVia('SIP/2.0/UDP h;rport;branch=z9hG4bK1')[0]!.rport).toBeNull();
    expect(parseVia('SIP/2.0/UDP h;branch=z9hG4bK1')[0]!.rport).toBeUndefined();
  });
  it('splits comma lists, IPv6 sent-by, LWS around / and :', () => {
    const vs = parseVia('SIP / 2.0 / WSS [2001:db8::1] : 443 ;branch=z9hG4bKa , SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKb');
    expect(vs.map((v) => [v.transport, v.host, v.port])).toEqual([['WSS', '2001:db8::1', 443], ['TCP', '10.0.0.1', undefined]]);
  });
  it('rejects malformed values', () => {
    expect(() => parseVia('SIP/2.0/UDP 192.0.2.15;;,;,,')).toThrow(/Via/);
    expect(() => parseVia('SIP/2.0 host')).toThrow(/Via/);
    expect(() => parseVia('SIP/2.0/UDP host:70000')).toThrow(/sent-by/);
    expect(() => parseVia('SIP/2.0/UDP h;rport=abc')).toThrow(/rport/);
  });
});

describe('formatVia', () => {
  it('writes fields over params and appends new ones', () => {
    const [v] = parseVia('SIP/2.0/UDP [::1]:5060;rport;branch=z9hG4bKx');
    v!.rport = 40000;
    v!.received = '::1';
    expect(formatVia(v!)).toBe('SIP/2.0/UDP [::1]:5060;rport=40000;branch=z9hG4bKx;received=::1');
    expect(parseVia(formatVia(v!))[0]!.rport).toBe(40000);
  });
});
