// Test support only (parser and stack fuzz tests): a seeded, deterministic SIP message mutator.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** mulberry32: tiny, fast, and the same sequence for the same seed on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPICAL = [
  [
    'REGISTER sip:example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKreg1;rport',
    'Max-Forwards: 70',
    'From: "Alice" <sip:alice@example.com>;tag=a1',
    'To: <sip:alice@example.com>',
    'Call-ID: reg-1@192.0.2.10',
    'CSeq: 2 REGISTER',
    'Contact: <sip:alice@192.0.2.10:5062;transport=udp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"',
    'Authorization: Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5',
    'Expires: 3600',
    'User-Agent: fuzz/1.0',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
  [
    'INVITE sip:1001@example.com;user=phone SIP/2.0',
    'Via: SIP/2.0/UDP [2001:db8::10]:5060;branch=z9hG4bKinv1;rport, SIP/2.0/TCP proxy.example.net;branch=z9hG4bKp1;received=192.0.2.1',
    'Max-Forwards: 69',
    'Record-Route: <sip:proxy.example.net;lr>',
    'From: Bob <sips:bob@example.org>;tag=b1',
    't: "1001, desk" <sip:1001@example.com>',
    'i: inv-1@example.org',
    'CSeq: 1 INVITE',
    'm: <sip:bob@[2001:db8::10]:5060>, "Bob mobile" <sip:bob@198.51.100.7;ob>;q=0.5',
    'Supported: replaces, timer',
    'Allow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS',
    'c: application/sdp',
    'l: 129',
    '',
    'v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n',
  ].join('\r\n'),
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinv1;rport=5062;received=198.51.100.1',
    'From: Bob <sip:bob@example.org>;tag=b1',
    'To: <sip:1001@example.com>;tag=x9',
    'Call-ID: inv-1@example.org',
    'CSeq: 1 INVITE',
    'Contact: <sip:1001@203.0.113.5:5080>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
  [
    'OPTIONS sip:patchbay@example.com SIP/2.0',
    'Via: SIP/2.0/UDP client.invalid:9999;branch=z9hG4bKopt',
    'Max-Forwards: 70',
    'From: <sip:probe@example.com>;tag=p1',
    'To: <sip:patchbay@example.com>',
    'Call-ID: opt-1',
    'CSeq: 1 OPTIONS',
    '',
    '',
  ].join('\r\n'),
  [
    'BYE sip:alice@192.0.2.10:5062 SIP/2.0',
    'Via: SIP/2.0/TLS host.example.com;branch=z9hG4bKbye',
    'Max-Forwards: 70',
    'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
    'From: sip:bob@example.org;tag=b1',
    'To: "A \\"quoted\\" name" <sip:alice@example.com>;tag=a1',
    'Call-ID: bye-1',
    'CSeq: 3 BYE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
].map((t) => Buffer.from(t, 'utf8'));

/** RFC 4475/5118 fixtures plus a few everyday messages, as exact bytes. */
export function seedMessages(): Buffer[] {
  const out: Buffer[] = [...TYPICAL];
  for (const set of ['rfc4475', 'rfc5118']) {
    const dir = fileURLToPath(new URL(`./fixtures/${set}/`, import.meta.url));
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.sip')) out.push(readFileSync(dir + f));
  }
  return out;
}

const SPECIALS = ['\0', '\r', '\n', '\r\n', ',', '<', '>', '"', ';', ':', '\\', '%', '%0', '[', ']', '@', '?', '=', ' ', '\t', '\r\n ', '\xff', 'é', '\u{1F600}', '::', ';;', '<<', '""'];
const HEADER_NAMES = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Contact', 'm', 'Max-Forwards', 'Content-Length', 'l', 'Route', 'Record-Route', 'Expires', 'X-Fuzz'];
const VALUES = [
  'SIP/2.0/UDP h;branch=z9hG4bKx', 'SIP/2.0/UDP [::1]:99999', '<sip:a@b>;tag=1', 'sip:a@b;tag', '"unterminated <sip:a@b>',
  '*', '1 INVITE', '4294967296 INVITE', '-1', '99999999999', '', '<sip:[::1>', '<sip:a@b>, <sip:c@d>', 'x'.repeat(300),
];

export interface Mutator {
  /** Picks a seed and applies 1–4 random mutations (one in half the cases). */
  message(seeds: Buffer[]): Buffer;
}

export function createMutator(seed: number): Mutator {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

  const splitLines = (b: Buffer): Buffer[] => {
    const lines: Buffer[] = [];
    let pos = 0;
    while (pos < b.length) {
      const nl = b.indexOf(0x0a, pos);
      const end = nl < 0 ? b.length : nl + 1;
      lines.push(b.subarray(pos, end));
      pos = end;
    }
    return lines;
  };
  const insertAt = (b: Buffer, at: number, what: Buffer): Buffer => Buffer.concat([b.subarray(0, at), what, b.subarray(at)]);
  const longToken = (): string => pick(['a', '1', ';', ',', '%41', ' ', 'z9hG4bK', '<', '"', '\\', 'a;b=c', '[::1]']).repeat(1 + int(pick([10, 500, 5000, 40000])));

  const mutations: Array<(b: Buffer) => Buffer> = [
    // byte flip
    (b) => {
      if (b.length === 0) return b;
      const c = Buffer.from(b);
      c[int(c.length)] = int(256);
      return c;
    },
    // bit flip
    (b) => {
      if (b.length === 0) return b;
      const c = Buffer.from(b);
      c[int(c.length)]! ^= 1 << int(8);
      return c;
    },
    // truncation
    (b) => b.subarray(0, int(b.length + 1)),
    // duplicate a line
    (b) => {
      const lines = splitLines(b);
      if (lines.length === 0) return b;
      const i = int(lines.length);
      lines.splice(i, 0, lines[i]!);
      return Buffer.concat(lines);
    },
    // delete a line
    (b) => {
      const lines = splitLines(b);
      if (lines.length === 0) return b;
      lines.splice(int(lines.length), 1);
      return Buffer.concat(lines);
    },
    // swap two lines
    (b) => {
      const lines = splitLines(b);
      if (lines.length < 2) return b;
      const i = int(lines.length);
      const j = int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return Buffer.concat(lines);
    },
    // insert a special character
    (b) => insertAt(b, int(b.length + 1), Buffer.from(pick(SPECIALS), 'utf8')),
    // insert a very long token
    (b) => insertAt(b, int(b.length + 1), Buffer.from(longToken(), 'utf8')),
    // insert a header line with a random name and a hostile value
    (b) => {
      const lines = splitLines(b);
      const name = int(3) === 0 ? Array.from({ length: 1 + int(12) }, () => String.fromCharCode(0x21 + int(94))).join('') : pick(HEADER_NAMES);
      const value = int(2) === 0 ? pick(VALUES) : longToken();
      lines.splice(1 + int(Math.max(1, lines.length - 1)), 0, Buffer.from(`${name}: ${value}\r\n`, 'utf8'));
      return Buffer.concat(lines);
    },
    // replace the value of a header line
    (b) => {
      const lines = splitLines(b);
      if (lines.length < 2) return b;
      const i = 1 + int(lines.length - 1);
      const text = lines[i]!.toString('latin1');
      const colon = text.indexOf(':');
      if (colon < 0) return b;
      lines[i] = Buffer.from(text.slice(0, colon + 1) + ' ' + pick(VALUES) + '\r\n', 'latin1');
      return Buffer.concat(lines);
    },
    // splice a chunk of another part of the message in
    (b) => {
      if (b.length < 2) return b;
      const from = int(b.length);
      const chunk = b.subarray(from, from + 1 + int(64));
      return insertAt(b, int(b.length + 1), chunk);
    },
  ];

  return {
    message(seeds: Buffer[]): Buffer {
      let b = pick(seeds);
      // Half the inputs get a single mutation so enough of them still parse and reach the getters.
      const n = rnd() < 0.5 ? 1 : 1 + int(4);
      for (let k = 0; k < n; k++) b = pick(mutations)(b);
      return b;
    },
  };
}
