import { describe, expect, it } from 'vitest';
import { formatNameAddr, parseContactList, parseNameAddr } from './name-addr.ts';

describe('parseNameAddr', () => {
  it('name-addr with quoted display name and escapes', () => {
    const na = parseNameAddr('"Bob \\"B\\" \\\\ Smith" <sip:bob@biloxi.com;transport=tcp>;tag=a6c85cf');
    expect(na.displayName).toBe('Bob "B" \\ Smith');
    expect(na.uri.params).toEqual({ transport: 'tcp' });
    expect(na.params).toEqual({ tag: 'a6c85cf' });
  });
  it('addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10)', () => {
    const na = parseNameAddr('sip:+12125551212@server.phone2net.com;tag=887s');
    expect(na.uri.params).toEqual({});
    expect(na.params).toEqual({ tag: '887s' });
    expect(na.displayName).toBeUndefined();
  });
  it('unquoted multi-token display name, LWS around ; and =', () => {
    const na = parseNameAddr('Anonymous  Caller <sip:c8oqz84zk7z@privacy.org> ;  tag = hyh8 ; expires=30');
    expect(na.displayName).toBe('Anonymous Caller');
    expect(na.params).toEqual({ tag: 'hyh8', expires: '30' });
  });
  it('keeps quoted parameter values with their quotes', () => {
    const na = parseNameAddr('<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1');
    expect(na.params['+sip.instance']).toBe('"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
  });
  it('rejects bad forms', () => {
    expect(() => parseNameAddr('Bell, Alexander <sip:a@b>')).toThrow(/display name/);
    expect(() => parseNameAddr('"unterminated <sip:a@b>')).toThrow();
    expect(() => parseNameAddr('sip:a@b?x=y')).toThrow(/<>/);
    expect(() => parseNameAddr('<sip:a@b>;;')).toThrow();
    expect(() => parseNameAddr('<sip:a@b')).toThrow();
  });
});

describe('formatNameAddr', () => {
  it('always uses <> and quotes display names when needed', () => {
    const na = parseNameAddr('sip:a@b;tag=1');
    expect(formatNameAddr(na)).toBe('<sip:a@b>;tag=1');
    expect(formatNameAddr({ ...na, displayName: 'Smith, J "Jr"' })).toBe('"Smith, J \\"Jr\\"" <sip:a@b>;tag=1');
    expect(formatNameAddr({ ...na, displayName: 'Alice' })).toBe('Alice <sip:a@b>;tag=1');
    expect(parseNameAddr(formatNameAddr({ ...na, displayName: 'Smith, J "Jr"' })).displayName).toBe('Smith, J "Jr"');
  });
});

describe('parseContactList', () => {
  it('splits at commas outside quotes and <>', () => {
    const list = parseContactList('"Doe, John" <sip:j,r@a;x=1>;q=0.7, sip:k@b;expires=60 ,<sip:l@c>');
    expect(list).not.toBe('*');
    if (list === '*') return;
    expect(list.map((c) => c.uri.user)).toEqual(["j,r", "k", "l"]);
    expect(list[0]!.displayName).toBe('Doe, John');
    expect(list[1]!.params).toEqual({ expires: '60' });
  });
  it('wildcard', () => {
    expect(parseContactList(' * ')).toBe('*');
  });
});
