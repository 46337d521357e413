import { describe, expect, it } from 'vitest';
import { formatUri, isIPv6, parseUri } from './uri.ts';
import { SipParseError } from './parse-error.ts';

describe('parseUri', () => {
  it('parses user, password, host, port, params and headers', () => {
    const u = parseUri('sips:alice:secret@Atlanta.COM:5061;transport=TLS;lr;Maddr=10.0.0.1?subject=project%20x&priority=urgent');
    expect(u).toEqual({
      scheme: 'sips',
      user: 'alice',
      password: 'secret',
      host: 'atlanta.com',
      port: 5061,
      params: { transport: 'TLS', lr: null, maddr: '10.0.0.1' },
      headers: { subject: 'project x', priority: 'urgent' },
    });
  });

  it('unescapes the user part (RFC 3261 §19.1.4 example)', () => {
    expect(parseUri('sip:%61lice@atlanta.com;transport=TCP').user).toBe('alice');
    expect(parseUri('sip:I%20have%20spaces@example.net').user).toBe('I have spaces');
    expect(parseUri('sip:%C3%B1@h').user).toBe('ñ');
  });

  it('handles IPv6 references (RFC 5118) and keeps hosts bracket-free', () => {
    expect(parseUri('sip:[2001:DB8::10]:5070').host).toBe('2001:db8::10');
    expect(parseUri('sip:[2001:db8::10]:5070').port).toBe(5070);
    expect(parseUri('sip:u@[::ffff:192.0.2.2]').host).toBe('::ffff:192.0.2.2');
    expect(() => parseUri('sip:2001:db8::10')).toThrow(SipParseError);
    expect(() => parseUri('sip:[2001:db8:::192.0.2.1]')).toThrow(/IPv6/);
  });

  it('parses tel URIs into user', () => {
    expect(parseUri('tel:+1-201-555-0123;phone-context=example.com')).toEqual({
      scheme: 'tel', user: '+1-201-555-0123', host: '', params: { 'phone-context': 'example.com' }, headers: {},
    });
  });

  it('rejects bad input with specific reasons', () => {
    const err = (t: string): SipParseError => {
      try { parseUri(t); } catch (e) { if (e instanceof SipParseError) return e; }
      throw new Error('accepted ' + t);
    };
    expect(err('http://example.com').status).toBe(416);
    expect(err('sip:user@host:99999').reason).toBe('Invalid port');
    expect(err('sip:user@exa mple.com').reason).toBe('Invalid URI');
    expect(err('<sip:a@b>').reason).toBe('Invalid URI');
    expect(err('sip:a@b;;lr').reason).toBe('Invalid URI parameter');
    expect(err('sip:%zz@b').reason).toBe('Bad escape in URI');
  });
});

describe('formatUri', () => {
  it('round-trips and brackets IPv6', () => {
    for (const t of ['sip:alice@atlanta.com:5060;transport=tcp;lr', 'sips:[2001:db8::1]:5061', 'sip:bob@h?replaces=a%40b%3Bto-tag%3D1', 'tel:+15551234']) {
      expect(parseUri(formatUri(parseUri(t)))).toEqual(parseUri(t));
    }
    expect(formatUri({ scheme: 'sip', host: '::1', port: 5060, params: {}, headers: {} })).toBe('sip:[::1]:5060');
  });
  it('escapes user characters that need it', () => {
    const u = parseUri('sip:%00%20x@h');
    expect(formatUri(u)).toBe('sip:%00%20x@h');
    expect(formatUri({ ...u, user: 'a@b' })).toBe('sip:a%40b@h');
  });
});

describe('isIPv6', () => {
  it('accepts RFC 4291 forms, rejects broken ones', () => {
    for (const ok of ['::', '::1', '2001:db8::1', '1:2:3:4:5:6:7:8', '::ffff:192.0.2.1', '2001:db8::192.0.2.1', '1:2:3:4:5:6:1.2.3.4'])
      expect(isIPv6(ok), ok).toBe(true);
    for (const bad of ['2001:db8:::1', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::1', 'g::1', '1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4'])
      expect(isIPv6(bad), bad).toBe(false);
  });
});
