import { SipHeaders } from './headers.ts';
import { newCallId, newTag, SipRequest } from './message.ts';
import { formatNameAddr } from './name-addr.ts';
import type { SipUri } from './uri.ts';

/** An out-of-dialog OPTIONS keep-alive probe to a server (RFC 3261 §11), as Kamailio's dispatcher sends. */
export function buildOptionsPing(opts: { target: SipUri; from: SipUri; callIdHost: string }): SipRequest {
  const h = new SipHeaders();
  h.append('From', formatNameAddr({ uri: opts.from, params: { tag: newTag() } }));
  h.append('To', formatNameAddr({ uri: { ...opts.target, params: {}, headers: {} }, params: {} }));
  h.append('Call-ID', newCallId(opts.callIdHost));
  h.append('CSeq', '1 OPTIONS');
  h.append('Max-Forwards', '70');
  h.append('Accept', 'application/sdp');
  return new SipRequest({ method: 'OPTIONS', uri: { ...opts.target, user: undefined, password: undefined, headers: {} }, headers: h, body: Buffer.alloc(0) });
}
