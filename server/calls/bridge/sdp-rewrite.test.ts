import { describe, expect, it } from 'vitest';
import { rewriteSdpForNat } from './sdp-rewrite.ts';
import { classifyIpAddress } from './ip-address-class.ts';

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

const natted = crlf([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.168.1.20',
  's=-',
  'c=IN IP4 192.168.1.20',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=rtcp:49171 IN IP4 192.168.1.20',
  'a=sendrecv',
]);

describe('rewriteSdpForNat', () => {
  it('rewrites private c=, o= and a=rtcp addresses to the source address and keeps the rest', () => {
    const r = rewriteSdpForNat(natted, { address: '203.0.113.7' });
    expect(r.changed).toBe(true);
    expect(r.sdp).toBe(natted.replaceAll('192.168.1.20', '203.0.113.7'));
  });

  it('leaves a phone on a public address alone', () => {
    const sdp = natted.replaceAll('192.168.1.20', '198.51.100.4');
    expect(rewriteSdpForNat(sdp, { address: '203.0.113.7' })).toEqual({ sdp, changed: false });
  });

  it('leaves a phone whose source equals its private SDP address alone (same LAN)', () => {
    expect(rewriteSdpForNat(natted, { address: '192.168.1.20' })).toEqual({ sdp: natted, changed: false });
  });

  it('ma=false disables the rewrite', () => {
    expect(rewriteSdpForNat(natted, { address: '203.0.113.7' }, { mangle: false })).toEqual({ sdp: natted, changed: false });
  });

  it.each(['10.1.2.3', '172.20.0.9', '100.64.1.1', '169.254.3.3'])('rewrites %s', (addr) => {
    const sdp = natted.replaceAll('192.168.1.20', addr);
    const r = rewriteSdpForNat(sdp, { address: '203.0.113.7' });
    expect(r.sdp).toBe(natted.replaceAll('192.168.1.20', '203.0.113.7'));
  });

  it('does not rewrite a hold SDP with c=0.0.0.0 and keeps a=sendonly', () => {
    const hold = crlf([
      'v=0', 'o=alice 1 2 IN IP4 192.168.1.20', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0',
      'm=audio 49170 RTP/AVP 0', 'a=sendonly',
    ]);
    const r = rewriteSdpForNat(hold, { address: '203.0.113.7' });
    expect(r.changed).toBe(true);
    expect(r.sdp).toContain('c=IN IP4 0.0.0.0\r\n');
    expect(r.sdp).toContain('o=alice 1 2 IN IP4 203.0.113.7\r\n');
    expect(r.sdp).toContain('a=sendonly\r\n');
    expect(r.sdp).not.toContain('c=IN IP4 203.0.113.7');
  });

  it('keeps direction attributes of a hold re-INVITE with a private c=', () => {
    const sdp = natted.replace('a=sendrecv', 'a=inactive');
    const r = rewriteSdpForNat(sdp, { address: '203.0.113.7' });
    expect(r.sdp).toContain('a=inactive\r\n');
    expect(r.sdp).toContain('c=IN IP4 203.0.113.7\r\n');
  });

  it('rewrites per media: only private media c= lines, session c= public stays', () => {
    const sdp = crlf([
      'v=0', 'o=- 1 1 IN IP4 198.51.100.4', 's=-', 'c=IN IP4 198.51.100.4', 't=0 0',
      'm=audio 4000 RTP/AVP 0', 'c=IN IP4 10.0.0.5', 'a=recvonly',
      'm=video 4002 RTP/AVP 96', 'c=IN IP4 0.0.0.0', 'a=rtpmap:96 H264/90000',
    ]);
    const r = rewriteSdpForNat(sdp, { address: '203.0.113.7' });
    expect(r.sdp).toBe(sdp.replace('c=IN IP4 10.0.0.5', 'c=IN IP4 203.0.113.7'));
  });

  it('IPv6: rewrites unique-local and link-local addresses to an IPv6 source', () => {
    const sdp = crlf([
      'v=0', 'o=- 1 1 IN IP6 fd00::20', 's=-', 'c=IN IP6 fe80::1', 't=0 0',
      'm=audio 4000 RTP/AVP 0', 'a=sendrecv',
    ]);
    const r = rewriteSdpForNat(sdp, { address: '2001:db8::5' });
    expect(r.sdp).toBe(crlf([
      'v=0', 'o=- 1 1 IN IP6 2001:db8::5', 's=-', 'c=IN IP6 2001:db8::5', 't=0 0',
      'm=audio 4000 RTP/AVP 0', 'a=sendrecv',
    ]));
  });

  it('IPv6 :: (unspecified) is not rewritten; public IPv6 is not rewritten', () => {
    const sdp = crlf(['v=0', 'o=- 1 1 IN IP6 2001:db8::9', 's=-', 'c=IN IP6 ::', 't=0 0', 'm=audio 4000 RTP/AVP 0']);
    expect(rewriteSdpForNat(sdp, { address: '2001:db8::5' }).changed).toBe(false);
  });

  it('an IPv4 private c= from an IPv6 source becomes IP6; an IPv4-mapped source becomes IP4', () => {
    expect(rewriteSdpForNat(natted, { address: '2001:db8::5' }).sdp).toContain('c=IN IP6 2001:db8::5\r\n');
    expect(rewriteSdpForNat(natted, { address: '::ffff:203.0.113.7' }).sdp).toContain('c=IN IP4 203.0.113.7\r\n');
  });

  it('keeps LF line endings', () => {
    const lf = natted.replaceAll('\r\n', '\n');
    expect(rewriteSdpForNat(lf, { address: '203.0.113.7' }).sdp).toBe(lf.replaceAll('192.168.1.20', '203.0.113.7'));
  });

  it('garbage and a bad source address leave the body alone', () => {
    expect(rewriteSdpForNat('not sdp', { address: '203.0.113.7' }).changed).toBe(false);
    expect(rewriteSdpForNat(natted, { address: 'nonsense' }).changed).toBe(false);
  });
});

describe('classifyIpAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['10.0.0.1', 'private'], ['172.31.255.255', 'private'], ['172.32.0.1', 'public'],
    ['192.168.0.1', 'private'], ['100.64.0.1', 'cgnat'], ['100.128.0.1', 'public'], ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'reserved'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'reserved'],
    ['8.8.8.8', 'public'], ['::1', 'loopback'], ['::', 'unspecified'], ['fc00::1', 'private'], ['fdff::1', 'private'],
    ['fe80::1', 'link-local'], ['febf::1', 'link-local'], ['ff02::1', 'multicast'], ['2001:db8::1', 'public'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['::ffff:7f00:1', 'loopback'],
    ['::ffff:8.8.8.8', 'public'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['fe80::1%eth0', 'link-local'], ['nope', 'invalid'],
  ])('%s is %s', (addr, cls) => {
    expect(classifyIpAddress(addr)).toBe(cls);
  });
});
