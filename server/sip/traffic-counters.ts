/**
 * Counts of SIP messages on the wire, by direction, request method and response status class
 * (the operator's metrics). Read from the first bytes of each datagram or framed message, so a
 * message costs a few byte comparisons and one increment: no string, no parse, no allocation.
 * Retransmissions count (they are traffic); CRLF keep-alives and unreadable bytes do not.
 */

/** Methods counted by name; anything else is counted as `other`, so the label set stays bounded. */
export const COUNTED_SIP_METHODS = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'PRACK',
  'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'REFER', 'MESSAGE', 'UPDATE',
] as const;

/** Response classes by index: 0 = a status outside 1xx–6xx, 1 = 1xx … 6 = 6xx. */
export const SIP_STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;

const METHOD_BYTES = COUNTED_SIP_METHODS.map((m) => Buffer.from(m, 'latin1'));
/** Index of `other` in the request arrays. */
const OTHER_METHOD = COUNTED_SIP_METHODS.length;
const SPACE = 0x20;
/** Longest token looked at for a method: longer ones are `other`. */
const MAX_METHOD_LENGTH = 16;

export interface SipTrafficDirection {
  /** By COUNTED_SIP_METHODS index; the last entry is `other`. */
  readonly requests: Float64Array;
  /** By SIP_STATUS_CLASSES index. */
  readonly responses: Float64Array;
}

export class SipTrafficCounters {
  readonly in: SipTrafficDirection = { requests: new Float64Array(OTHER_METHOD + 1), responses: new Float64Array(SIP_STATUS_CLASSES.length) };
  readonly out: SipTrafficDirection = { requests: new Float64Array(OTHER_METHOD + 1), responses: new Float64Array(SIP_STATUS_CLASSES.length) };

  count(direction: 'in' | 'out', data: Uint8Array): void {
    const counts = direction === 'in' ? this.in : this.out;
    if (isStatusLine(data)) {
      const digit = data.length > 8 ? data[8]! - 0x30 : 0;
      counts.responses[digit >= 1 && digit <= 6 ? digit : 0]!++;
      return;
    }
    const method = methodIndex(data);
    if (method >= 0) counts.requests[method]!++;
  }
}

/** `SIP/2.0 ` at the start. */
function isStatusLine(data: Uint8Array): boolean {
  return data.length >= 12 && data[0] === 0x53 && data[1] === 0x49 && data[2] === 0x50 && data[3] === 0x2f && data[7] === SPACE;
}

/** Index of the request line's method (OTHER_METHOD for an unknown token), or -1 when there is no request line. */
function methodIndex(data: Uint8Array): number {
  const limit = Math.min(data.length, MAX_METHOD_LENGTH + 1);
  let space = -1;
  for (let i = 0; i < limit; i++) {
    const b = data[i]!;
    if (b === SPACE) {
      space = i;
      break;
    }
    // Method tokens are letters (RFC 3261 §25.1 allows more, but nothing real uses it).
    if (b < 0x41 || b > 0x7a) return -1;
  }
  // No space: a token too long to be a method we name is `other`; a short fragment is nothing.
  if (space === -1) return data.length > MAX_METHOD_LENGTH ? OTHER_METHOD : -1;
  if (space === 0) return -1;
  for (let m = 0; m < METHOD_BYTES.length; m++) {
    const name = METHOD_BYTES[m]!;
    if (name.length !== space || name[0] !== data[0]) continue;
    let same = true;
    for (let i = 1; i < space; i++) {
      if (name[i] !== data[i]) {
        same = false;
        break;
      }
    }
    if (same) return m;
  }
  return OTHER_METHOD;
}
