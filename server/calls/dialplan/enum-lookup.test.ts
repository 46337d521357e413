import { describe, expect, it } from 'vitest';
import { applyNaptrRegexp, enumDomain, enumLookup, EnumLookupError, type NaptrRecord } from './enum-lookup.ts';

function naptr(order: number, preference: number, service: string, regexp: string, flags = 'u'): NaptrRecord {
  return { order, preference, service, regexp, flags, replacement: '' };
}

describe('enumLookup', () => {
  it('builds the reversed-digit domain', () => {
    expect(enumDomain('+44 20-7946 0000')).toBe('0.0.0.0.6.4.9.7.0.2.4.4.e164.arpa');
    expect(enumDomain('4930', 'e164.org')).toBe('0.3.9.4.e164.org');
  });

  it('applies the regexp of the best E2U+sip record (order, then preference)', async () => {
    const asked: string[] = [];
    const records = [
      naptr(20, 10, 'E2U+sip', '!^.*$!sip:worse@example.net!'),
      naptr(10, 50, 'E2U+sip', '!^\\+44(.*)$!sip:\\1@second.example!'),
      naptr(10, 20, 'E2U+email:mailto', '!^.*$!mailto:x@example.org!'),
      naptr(10, 10, 'E2U+sip', '!^\\+44(.*)$!sip:uk\\1@best.example!'),
    ];
    const uri = await enumLookup('+442079460000', {
      suffix: 'e164.test',
      resolveNaptr: async (d) => { asked.push(d); return records; },
    });
    expect(asked).toEqual(['0.0.0.0.6.4.9.7.0.2.4.4.e164.test']);
    expect(uri).toBe('sip:uk2079460000@best.example');
  });

  it('returns null when there is no record or no SIP record', async () => {
    const nx = Object.assign(new Error('queryNaptr ENOTFOUND'), { code: 'ENOTFOUND' });
    expect(await enumLookup('123', { resolveNaptr: async () => { throw nx; } })).toBeNull();
    expect(await enumLookup('123', { resolveNaptr: async () => [naptr(1, 1, 'E2U+email:mailto', '!^.*$!mailto:a@b.c!')] })).toBeNull();
    expect(await enumLookup('123', { resolveNaptr: async () => [naptr(1, 1, 'E2U+sip', '!^.*$!sip:a@b.c!', '')] })).toBeNull();
  });

  it('rejects what is not an E.164 number and reports DNS failures', async () => {
    await expect(enumLookup('12ab', { resolveNaptr: async () => [] })).rejects.toBeInstanceOf(EnumLookupError);
    await expect(enumLookup('1234567890123456', { resolveNaptr: async () => [] })).rejects.toThrow(/E\.164/);
    const refused = Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await expect(enumLookup('123', { resolveNaptr: async () => { throw refused; } })).rejects.toThrow(/DNS lookup/);
  });

  it('parses substitution expressions with other delimiters and flags', () => {
    expect(applyNaptrRegexp('/^\\+1(555)(.*)$/sip:\\2@\\1.example/i', '+15551234')).toBe('sip:1234@555.example');
    expect(applyNaptrRegexp('!^\\+9.*$!sip:x@y!', '+15551234')).toBeUndefined();
    expect(applyNaptrRegexp('!broken', '+1')).toBeUndefined();
  });

  it('accepts the RFC 6116 forms used in practice', () => {
    expect(applyNaptrRegexp('!^.*$!sip:info@example.com!', '+442079460000')).toBe('sip:info@example.com');
    expect(applyNaptrRegexp('!^(.*)$!sip:\\1@gw.example!', '+4930')).toBe('sip:+4930@gw.example');
    expect(applyNaptrRegexp('!^\\+44(.*)$!sip:0\\1@uk.example!', '+442079460000')).toBe('sip:02079460000@uk.example');
    expect(applyNaptrRegexp('!^\\+49([0-9][0-9])(.*)$!sip:\\2@area\\1.example!', '+493012345')).toBe('sip:12345@area30.example');
    expect(applyNaptrRegexp('!^\\+1\\d\\d\\d!sip:nanp@x.example!', '+15551234')).toBe('sip:nanp@x.example'); // prefix, no $
    expect(applyNaptrRegexp('!^\\+1555$!sip:x@y!', '+15551234')).toBeUndefined(); // $ anchors
    expect(applyNaptrRegexp('!\\+44(.*)$!sip:\\1@x!', '+4412')).toBeUndefined(); // unanchored start: not an ENUM form
  });

  it('refuses catastrophic and other non-ENUM patterns at once instead of backtracking (ReDoS)', () => {
    const input = '+' + '1'.repeat(40) + 'x';
    for (const evil of [
      '!^(\\d+)+$!sip:x@y!',
      '!^(\\d*)*$!sip:x@y!',
      '!^(1|11)*$!sip:x@y!',
      '!^((1+)+)+x$!sip:x@y!',
      '!^(.*.*.*.*.*)*y$!sip:x@y!',
      '!^\\+(1{1,30}){1,30}$!sip:x@y!',
      '!^[0-9]+?$!sip:x@y!',
      '!^(?=1)!sip:x@y!',
      '!^(1)\\1$!sip:x@y!',
      '!^' + '(1)'.repeat(10) + '!sip:x@y!',
      '!^' + '1'.repeat(600) + '!sip:x@y!',
    ]) {
      expect(applyNaptrRegexp(evil, input), evil).toBeUndefined();
    }
  });

  it('matches an accepted form in one pass even on a huge input', () => {
    const huge = '+' + '1'.repeat(200_000);
    expect(applyNaptrRegexp('!^\\+(.*)$!sip:\\1@x!', huge)).toBe(`sip:${'1'.repeat(200_000)}@x`);
    expect(applyNaptrRegexp('!^\\+1(.*)2$!sip:x@y!', huge)).toBeUndefined();
  });
});
