import { describe, expect, it } from 'vitest';
import { SipHeaders, splitHeaderList } from './headers.ts';

function sample(): SipHeaders {
  const h = new SipHeaders();
  h.appendRaw('v', 'SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2', 'v:  SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2');
  h.appendRaw('VIA', 'SIP/2.0/UDP c;branch=z9hG4bK3', 'VIA: SIP/2.0/UDP c;branch=z9hG4bK3');
  h.appendRaw('WWW-Authenticate', 'Digest realm="a, b", nonce="x", qop="auth,auth-int"', 'WWW-Authenticate: Digest realm="a, b", nonce="x", qop="auth,auth-int"');
  h.appendRaw('Contact', '"A, B" <sip:a,2@x;p=1>, <sip:b@y>', 'Contact: "A, B" <sip:a,2@x;p=1>, <sip:b@y>');
  h.appendRaw('X-Custom', 'one, two', 'X-Custom:one, two');
  return h;
}

describe('SipHeaders', () => {
  it('case-insensitive and compact names', () => {
    const h = sample();
    expect(h.get('via')).toBe('SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2');
    expect(h.has('V')).toBe(true);
    expect(h.has('m')).toBe(true);
    expect(h.getAll('Via')).toEqual(['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2', 'SIP/2.0/UDP c;branch=z9hG4bK3']);
  });
  it('does not split headers whose grammar contains commas, or unknown ones', () => {
    const h = sample();
    expect(h.getAll('www-authenticate')).toEqual(['Digest realm="a, b", nonce="x", qop="auth,auth-int"']);
    expect(h.getAll('x-custom')).toEqual(['one, two']);
    expect(h.getAll('contact')).toEqual(['"A, B" <sip:a,2@x;p=1>', '<sip:b@y>']);
  });
  it('set/append/prepend/remove keep order and spelling', () => {
    const h = sample();
    h.prepend('Via', 'SIP/2.0/TCP top;branch=z9hG4bK0');
    expect(h.getAll('via')[0]).toBe('SIP/2.0/TCP top;branch=z9hG4bK0');
    h.set('contact', '<sip:z@z>');
    expect(h.entries().map(([n]) => n)).toEqual(['Via', 'v', 'VIA', 'WWW-Authenticate', 'contact', 'X-Custom']);
    h.append('Route', '<sip:r1;lr>');
    h.remove('x-custom');
    expect(h.has('X-Custom')).toBe(false);
    expect(h.entries().at(-1)).toEqual(['Route', '<sip:r1;lr>']);
    h.removeFirst('via');
    h.removeFirst('via');
    expect(h.getAll('via')).toEqual(['SIP/2.0/UDP b;branch=z9hG4bK2', 'SIP/2.0/UDP c;branch=z9hG4bK3']);
  });
  it('serializes untouched lines from their raw text and fixes Content-Length', () => {
    const h = sample();
    const text = h.serializeWithContentLength(0);
    expect(text).toContain('v:  SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n');
    expect(text).toContain('X-Custom:one, two\r\n');
    expect(text.endsWith('Content-Length: 0\r\n')).toBe(true);
  });
  it('version bumps on every mutation', () => {
    const h = new SipHeaders();
    const v0 = h.version;
    h.append('A', '1');
    h.set('A', '2');
    expect(h.version).toBeGreaterThan(v0 + 1);
  });
});

describe('splitHeaderList', () => {
  it('respects quotes with escapes and angle brackets', () => {
    expect(splitHeaderList('"a\\",b" <sip:x,y>, c ,, d')).toEqual(['"a\\",b" <sip:x,y>', 'c', 'd']);
  });
});
