import { SipParseError } from './parse-error.ts';
import { MAX_MESSAGE_SIZE, findHeaderEnd } from './parser.ts';

const CONTENT_LENGTH_LINE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;
/** A header terminator split across chunks starts at most this far before the new bytes. */
const TERMINATOR_OVERLAP = 3;

/**
 * Cuts a TCP/TLS byte stream into whole SIP messages by Content-Length (RFC 3261 §18.3).
 * CRLF keep-alives between messages (RFC 5626 §4.4.1 "double CRLF") are skipped. A message
 * without Content-Length, with a bad one, or larger than 64 KiB is an error: after that the
 * stream cannot be re-synchronised and the connection should be closed.
 *
 * Work per chunk is proportional to the chunk, not to what is buffered: the header search
 * resumes where the previous one stopped, the length is read once per message, and the buffer
 * grows by doubling. A peer trickling a 64 KiB header byte by byte must not cost 2 GiB of
 * copying and scanning.
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Unconsumed bytes are buf[start, end). */
  private start = 0;
  private end = 0;
  /** Header search of the current message already covered bytes before this (absolute in buf). */
  private scanned = 0;
  /** Total length of the current message once its header has been read. */
  private expected: number | undefined;
  private readonly maxMessageSize: number;
  /** CRLF bytes skipped between messages so far (keep-alives: the transport counts activity). */
  keepAliveBytes = 0;

  constructor(opts?: { maxMessageSize?: number }) {
    this.maxMessageSize = opts?.maxMessageSize ?? MAX_MESSAGE_SIZE;
  }

  /** Bytes received but not yet part of a whole message. */
  get pending(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    for (;;) {
      if (this.expected === undefined) {
        const skipped = this.skipKeepAlives();
        if (skipped > 0) this.keepAliveBytes += skipped;
        if (this.start === this.end) break;
        const data = this.buf.subarray(this.start, this.end);
        const from = Math.max(0, this.scanned - this.start - TERMINATOR_OVERLAP);
        const found = findHeaderEnd(data, from);
        if (!found) {
          this.scanned = this.end;
          if (data.length > this.maxMessageSize) throw new SipParseError('Message Too Large', 513);
          break;
        }
        const [headEnd, bodyStart] = found;
        const m = CONTENT_LENGTH_LINE.exec(data.toString('latin1', 0, headEnd));
        if (!m) throw new SipParseError('Missing Content-Length header');
        if (!/^\d{1,10}$/.test(m[1]!)) throw new SipParseError('Invalid Content-Length header');
        const total = bodyStart + Number(m[1]);
        if (total > this.maxMessageSize) throw new SipParseError('Message Too Large', 513);
        this.expected = total;
      }
      if (this.end - this.start < this.expected) break;
      // copy, so a retained message does not pin the receive buffer
      out.push(Buffer.from(this.buf.subarray(this.start, this.start + this.expected)));
      this.start += this.expected;
      this.scanned = this.start;
      this.expected = undefined;
    }
    if (this.start === this.end) {
      this.start = this.end = this.scanned = 0;
    }
    return out;
  }

  private skipKeepAlives(): number {
    const from = this.start;
    while (this.start < this.end && (this.buf[this.start] === 0x0d || this.buf[this.start] === 0x0a)) this.start++;
    if (this.start > this.scanned) this.scanned = this.start;
    return this.start - from;
  }

  private append(chunk: Buffer): void {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      const needed = live + chunk.length;
      // Keep the buffer if compacting frees enough room; otherwise grow by doubling.
      const next = needed <= this.buf.length ? this.buf : Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2, 4096));
      this.buf.copy(next, 0, this.start, this.end);
      this.scanned -= this.start;
      this.buf = next;
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }
}
