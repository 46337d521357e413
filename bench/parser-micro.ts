/**
 * Micro-benchmark of the SIP parser/serializer (not a test): prints messages per second.
 * Run: npx tsx bench/parser-micro.ts
 */
import { parseMessage } from '../server/sip/index.ts';

const REGISTER = Buffer.from([
  'REGISTER sip:pbx.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---5f8a2b1c;rport',
  'Max-Forwards: 70',
  'Contact: <sip:1001@192.0.2.10:5060;transport=udp;rinstance=8d1a2b3c4d5e6f70>;expires=3600',
  'To: "1001" <sip:1001@pbx.example.com>',
  'From: "1001" <sip:1001@pbx.example.com>;tag=8f2c1a9b',
  'Call-ID: YjNhMGQ1ZGI4ZjJlNDE0MmI3ZGM4YjE0NDE3ZjA4ZDI',
  'CSeq: 2 REGISTER',
  'Expires: 3600',
  'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
  'Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri',
  'User-Agent: Zoiper rv2.10.18.4',
  'Authorization: Digest username="1001",realm="pbx.example.com",nonce="5f8a2b1c0d3e4f50",uri="sip:pbx.example.com",response="0a4f113b3d1b2c3d4e5f60718293a4b5",algorithm=MD5',
  'Allow-Events: presence, kpml, talk',
  'Content-Length: 0',
  '', '',
].join('\r\n'));

const SDP = [
  'v=0', 'o=- 3912345678 3912345678 IN IP4 192.0.2.10', 's=Z', 'c=IN IP4 192.0.2.10', 't=0 0',
  'm=audio 8000 RTP/AVP 106 9 98 101 0 8 3', 'a=rtpmap:106 opus/48000/2', 'a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1',
  'a=rtpmap:98 telephone-event/48000', 'a=fmtp:98 0-16', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv', 'a=rtcp-mux', '',
].join('\r\n');

const INVITE = Buffer.from([
  'INVITE sip:1002@pbx.example.com;transport=UDP SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77aa88bb;rport',
  'Max-Forwards: 70',
  'Contact: <sip:1001@192.0.2.10:5060;transport=UDP>',
  'To: <sip:1002@pbx.example.com;transport=UDP>',
  'From: "Alice" <sip:1001@pbx.example.com;transport=UDP>;tag=6c1b2a3d',
  'Call-ID: ZGU0ZjY5ZTE5NmE0NzA4ZTI1YjJiNTk1MmFmNWQ1MzI',
  'CSeq: 1 INVITE',
  'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
  'Content-Type: application/sdp',
  'Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri',
  'User-Agent: Zoiper rv2.10.18.4',
  'Allow-Events: presence, kpml, talk',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
].join('\r\n'));

function bench(label: string, fn: () => void, ms = 1500): void {
  for (let i = 0; i < 20000; i++) fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  const secs = Number(elapsed) / 1e9;
  console.log(`${label.padEnd(44)} ${Math.round(n / secs).toLocaleString('en-US').padStart(12)} msg/s  ${((secs / n) * 1e6).toFixed(2)} µs/msg`);
}

let sink = 0;
bench('parse REGISTER', () => { sink += parseMessage(REGISTER).body.length; });
bench('parse INVITE+SDP', () => { sink += parseMessage(INVITE).body.length; });
bench('parse INVITE+SDP, read via/from/to/cseq', () => {
  const m = parseMessage(INVITE);
  sink += m.topVia.branch!.length + m.from.params['tag']!.length + m.cseq.seq + m.callId.length;
});
bench('parse + prepend Via + toBuffer (proxy path)', () => {
  const m = parseMessage(INVITE);
  m.headers.prepend('Via', 'SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKproxy1');
  sink += m.toBuffer().length;
});
if (sink === 42) console.log('');
