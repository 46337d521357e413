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
});
