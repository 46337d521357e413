import type { SipMessage } from '../../sip/index.ts';
import { rewriteSdpForNat } from './sdp-rewrite.ts';

/** The body to pass on: SDP rewritten for the NAT its sender is behind (unless `mangle` is off), anything else as sent. */
export function relayedBody(msg: SipMessage, mangle = true): Buffer {
  const contentType = msg.headers.get('Content-Type');
  if (msg.body.length && contentType?.toLowerCase().startsWith('application/sdp') && msg.source) {
    return Buffer.from(rewriteSdpForNat(msg.body.toString('utf8'), msg.source, { mangle }).sdp, 'utf8');
  }
  return msg.body;
}
