import { describe, expect, it } from 'vitest';
import { StreamFramer } from './stream-framer.ts';
import { parseMessage } from './parser.ts';
import { SipParseError } from './parse-error.ts';

function msg(body: string, tag = '1'): Buffer {
  return Buffer.from(
    `MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK${tag}\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>;tag=${tag}\r\n` +
      `Call-ID: c${tag}\r\nCSeq: 1 MESSAGE\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

describe('StreamFramer', () => {
  it('cuts messages at any chunk boundary and skips CRLF keep-alives', () => {
    const stream = Buffer.concat([Buffer.from('\r\n\r\n'), msg('hello\r\n\r\nworld', 'a'), Buffer.from('\r\n'), msg('', 'b'), msg('x', 'c')]);
    for (let size = 1; size <= stream.length; size += 7) {
      const f = new StreamFramer();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...f.push(stream.subarray(i, i + size)));
      expect(out.map((b) => parseMessage(b).body.toString())).toEqual(['hello\r\n\r\nworld', '', 'x']);
      expect(f.pending).toBe(0);
    }
  });

  it('waits for the rest of the body', () => {
    const f = new StreamFramer();
    const m = msg('0123456789');
    expect(f.push(m.subarray(0, m.length - 3))).toEqual([]);
    expect(f.push(m.subarray(m.length - 3))).toHaveLength(1);
  });

  it('errors on a missing or bad Content-Length', () => {
    const noLength = Buffer.from(msg('').toString().replace('l: 0\r\n', ''));
    expect(() => new StreamFramer().push(noLength)).toThrow('Missing Content-Length header');
    const negative = Buffer.from(msg('').toString().replace('l: 0', 'l: -5'));
    expect(() => new StreamFramer().push(negative)).toThrow('Invalid Content-Length header');
  });

  it('errors on oversize messages, with or without a complete header', () => {
    const huge = Buffer.from(msg('').toString().replace('l: 0', 'l: 70000'));
    expect(() => new StreamFramer().push(huge)).toThrow(SipParseError);
    const garbage = Buffer.alloc(70000, 0x41);
    expect(() => new StreamFramer().push(garbage)).toThrow('Message Too Large');
  });
});

describe('StreamFramer work per chunk', () => {
  it('finds a header terminator split across chunks', () => {
    const m = msg('body');
    const cut = m.indexOf('\r\n\r\n') + 2;
    const f = new StreamFramer();
    expect(f.push(m.subarray(0, cut))).toEqual([]);
    expect(f.push(m.subarray(cut))).toHaveLength(1);
  });

  it('counts CRLF keep-alive bytes between messages', () => {
    const f = new StreamFramer();
    f.push(Buffer.from('\r\n\r\n'));
    expect(f.keepAliveBytes).toBe(4);
    f.push(Buffer.concat([msg(''), Buffer.from('\r\n')]));
    expect(f.keepAliveBytes).toBe(6);
  });
});
