import { describe, expect, it } from 'vitest';
import { parseMessage, MAX_MESSAGE_SIZE } from './parser.ts';
import { SipParseError } from './parse-error.ts';
import { SipRequest, SipResponse } from './message.ts';

const INVITE = [
  'INVITE sip:bob@biloxi.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.com>',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.com>',
  'X-Unknown:   keep  me ,exactly;as=is',
  'Content-Type: application/sdp',
  'Content-Length: 4',
  '',
  'v=0\n',
].join('\r\n');

function reject(text: string | Buffer): SipParseError {
  try {
    parseMessage(typeof text === 'string' ? Buffer.from(text) : text);
  } catch (err) {
    if (err instanceof SipParseError) return err;
    throw err;
  }
  throw new Error('accepted');
}

function without(header: string): string {
  return INVITE.split('\r\n').filter((l) => !l.startsWith(header + ':')).join('\r\n');
}

describe('parseMessage', () => {
  it('parses a request', () => {
    const m = parseMessage(Buffer.from(INVITE));
    expect(m).toBeInstanceOf(SipRequest);
    if (!(m instanceof SipRequest)) return;
    expect(m.method).toBe('INVITE');
    expect(m.uri.user).toBe('bob');
    expect(m.topVia.branch).toBe('z9hG4bK776asdhds');
    expect(m.from.params['tag']).toBe('1928301774');
    expect(m.to.displayName).toBe('Bob');
    expect(m.callId).toBe('a84b4c76e66710@pc33.atlanta.com');
    expect(m.cseq).toEqual({ seq: 314159, method: 'INVITE' });
    expect(m.maxForwards).toBe(70);
    expect(m.body.toString()).toBe('v=0\n');
  });

  it('parses a response', () => {
    const m = parseMessage(Buffer.from('SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=2\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n'));
    expect(m).toBeInstanceOf(SipResponse);
    if (!(m instanceof SipResponse)) return;
    expect([m.status, m.reason]).toEqual([180, 'Ringing']);
    expect(m.body.length).toBe(0);
  });

  it('is byte-identical on output when nothing was touched, and values survive a round trip', () => {
    const raw = Buffer.from(INVITE);
    const m = parseMessage(raw);
    expect(m.toBuffer().equals(raw)).toBe(true);
    m.headers.prepend('Via', 'SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy');
    const out = m.toBuffer().toString();
    expect(out).toContain('\r\nX-Unknown:   keep  me ,exactly;as=is\r\n');
    const again = parseMessage(m.toBuffer());
    expect(again.via.map((v) => v.host)).toEqual(['proxy.example.com', 'pc33.atlanta.com']);
    expect(again.headers.get('x-unknown')).toBe('keep  me ,exactly;as=is');
  });

  it('re-parses cached values after headers change', () => {
    const m = parseMessage(Buffer.from(INVITE));
    expect(m.to.params['tag']).toBeUndefined();
    m.headers.set('To', 'Bob <sip:bob@biloxi.com>;tag=xyz');
    expect(m.to.params['tag']).toBe('xyz');
  });

  it('rewrites Content-Length when the body changes', () => {
    const m = parseMessage(Buffer.from(INVITE));
    m.body = Buffer.from('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n');
    const again = parseMessage(m.toBuffer());
    expect(again.headers.get('content-length')).toBe(String(m.body.length));
    expect(again.body.equals(m.body)).toBe(true);
  });

  it('missing Content-Length on a datagram: the body is the rest', () => {
    const m = parseMessage(Buffer.from(without('Content-Length')));
    expect(m.body.toString()).toBe('v=0\n');
  });

  it('accepts leading CRLFs, bare-LF line ends and unfolds continuation lines', () => {
    const lf = '\r\n\r\n' + INVITE.replace(/\r\n/g, '\n').replace('Max-Forwards: 70', 'Max-Forwards:\n  70');
    const m = parseMessage(Buffer.from(lf));
    expect(m instanceof SipRequest && m.maxForwards).toBe(70);
  });

  it('keeps invalid UTF-8 bytes intact (latin1 pass-through)', () => {
    const head = without('Content-Length').split('\r\n\r\n')[0]!;
    const bin = Buffer.concat([
      Buffer.from(head + '\r\nX-Bin: '),
      Buffer.from([0xff, 0xfe, 0x80]),
      Buffer.from('\r\nContent-Length: 0\r\n\r\n'),
    ]);
    const m = parseMessage(bin);
    expect(m.toBuffer().equals(bin)).toBe(true);
    expect(m.headers.get('x-bin')).toBe('\u00ff\u00fe\u0080');
  });

  it.each([
    ['To', 'Missing To header'],
    ['From', 'Missing From header'],
    ['Call-ID', 'Missing Call-ID header'],
    ['CSeq', 'Missing CSeq header'],
    ['Via', 'Missing Via header'],
  ])('missing %s → "%s"', (name, reason) => {
    expect(reject(without(name)).reason).toBe(reason);
  });

  it('tolerates a missing Max-Forwards', () => {
    const m = parseMessage(Buffer.from(without('Max-Forwards')));
    expect(m instanceof SipRequest && m.maxForwards).toBeUndefined();
  });

  it('rejects bad framing and scalar values', () => {
    expect(reject(INVITE.replace('Content-Length: 4', 'Content-Length: 5')).reason).toBe('Content-Length mismatch');
    expect(reject(INVITE.replace('Content-Length: 4', 'Content-Length: -1')).reason).toBe('Invalid Content-Length header');
    expect(reject(INVITE.replace('Content-Length: 4', 'Content-Length: five')).reason).toBe('Invalid Content-Length header');
    expect(reject(INVITE.replace('CSeq: 314159 INVITE', 'CSeq: 314159 ACK')).reason).toBe('CSeq method does not match request method');
    expect(reject(INVITE.replace('CSeq: 314159', 'CSeq: 4294967296')).reason).toBe('Invalid CSeq header');
    expect(reject(INVITE.replace('Max-Forwards: 70', 'Max-Forwards: 256')).reason).toBe('Invalid Max-Forwards header');
    expect(reject(INVITE.split('\r\n\r\n')[0]!).reason).toBe('Incomplete header section');
    expect(reject(INVITE.replace('X-Unknown:', 'X Unknown:')).reason).toBe('Malformed header name');
    expect(reject(INVITE.replace('X-Unknown:', 'X-Unknown')).reason).toBe('Malformed header line');
  });

  it('validates the start line', () => {
    expect(reject(INVITE.replace('SIP/2.0\r\n', 'SIP/3.0\r\n'))).toMatchObject({ status: 505, reason: 'Version Not Supported' });
    expect(reject(INVITE.replace('INVITE sip', 'INV(ITE sip')).reason).toBe('Invalid method');
    expect(reject(INVITE.replace('sip:bob@biloxi.com SIP', 'mailto:bob@biloxi.com SIP')).status).toBe(416);
    expect(reject('SIP/2.0 99 Low\r\n\r\n').reason).toBe('Invalid status code');
    expect(reject('SIP/2.0 700 High\r\n\r\n').reason).toBe('Invalid status code');
    expect(reject('SIP/2.0 2000 OK\r\n\r\n').reason).toBe('Invalid status code');
  });

  it('rejects oversize datagrams with 513', () => {
    const big = Buffer.concat([Buffer.from(INVITE), Buffer.alloc(MAX_MESSAGE_SIZE)]);
    expect(reject(big)).toMatchObject({ status: 513 });
  });

  it('attaches the header list to errors so a 400 can still be answered', () => {
    const err = reject(INVITE.replace('CSeq: 314159 INVITE', 'CSeq: x INVITE'));
    expect(err.headers?.get('call-id')).toBe('a84b4c76e66710@pc33.atlanta.com');
    expect(err.method).toBe('INVITE');
  });
});
