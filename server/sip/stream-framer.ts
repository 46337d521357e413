import { SipParseError } from './parse-error.ts';
import { MAX_MESSAGE_SIZE, findHeaderEnd } from './parser.ts';

const CONTENT_LENGTH_LINE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;

/**
 * Cuts a TCP/TLS byte stream into whole SIP messages by Content-Length (RFC 3261 §18.3).
 * CRLF keep-alives between messages (RFC 5626 §4.4.1 "double CRLF") are skipped. A message
 * without Content-Length, with a bad one, or larger than 64 KiB is an error: after that the
 * stream cannot be re-synchronised and the connection should be closed.
 */
export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly maxMessageSize: number;

  constructor(opts?: { maxMessageSize?: number }) {
    this.maxMessageSize = opts?.maxMessageSize ?? MAX_MESSAGE_SIZE;
  }

  /** Bytes received but not yet part of a whole message. */
  get pending(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      let start = 0;
      while (start < this.buffer.length && (this.buffer[start] === 0x0d || this.buffer[start] === 0x0a)) start++;
      if (start > 0) this.buffer = this.buffer.subarray(start);
      if (this.buffer.length === 0) break;
      const end = findHeaderEnd(this.buffer, 0);
      if (!end) {
        if (this.buffer.length > this.maxMessageSize) throw new SipParseError('Message Too Large', 513);
        break;
      }
      const [headEnd, bodyStart] = end;
      const head = this.buffer.toString('latin1', 0, headEnd);
      const m = CONTENT_LENGTH_LINE.exec(head);
      if (!m) throw new SipParseError('Missing Content-Length header');
      if (!/^\d{1,10}$/.test(m[1]!)) throw new SipParseError('Invalid Content-Length header');
      const total = bodyStart + Number(m[1]);
      if (total > this.maxMessageSize) throw new SipParseError('Message Too Large', 513);
      if (this.buffer.length < total) break;
      // copy, so a retained message does not pin the whole receive buffer
      out.push(Buffer.from(this.buffer.subarray(0, total)));
      this.buffer = this.buffer.subarray(total);
    }
    if (this.buffer.length > 0 && this.buffer.byteOffset > 0 && out.length > 0) {
      this.buffer = Buffer.from(this.buffer);
    }
    return out;
  }
}
