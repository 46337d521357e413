/**
 * Thrown for any syntactically or semantically unacceptable SIP input.
 * `reason` is a short phrase that fits a response line ("400 Missing Call-ID header");
 * `status` is the response a server should send (400, or 505 / 416 / 513 where RFC 3261 says so).
 */
import type { SipHeaders } from './headers.ts';

export class SipParseError extends Error {
  readonly reason: string;
  readonly status: number;
  /**
   * The header lines, when the header section itself could be split: lets a server still build a
   * 400/505/416 response from Via, From, To, Call-ID and CSeq of a request it could not accept.
   */
  headers?: SipHeaders;
  /** The request method, when the start line was a readable request line. */
  method?: string;
  constructor(reason: string, status = 400) {
    super(reason);
    this.name = 'SipParseError';
    this.reason = reason;
    this.status = status;
  }
}
