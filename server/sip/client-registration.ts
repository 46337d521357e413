import { SipHeaders } from './headers.ts';
import { newCallId, newTag, SipRequest, type SipResponse } from './message.ts';
import { formatNameAddr, parseContactList } from './name-addr.ts';
import type { SipUri } from './uri.ts';

/** One binding a UA keeps at a registrar (RFC 3261 §10.2): the same Call-ID and From tag for every refresh. */
export interface ClientRegistrationIdentity {
  /** Registrar Request-URI (`sip:host[:port]`, no user). */
  registrar: SipUri;
  /** Address of record, in To and From. */
  aor: SipUri;
  /** Our Contact URI (`<sip:user@host:port>`, as a header value). */
  contact: string;
  callId: string;
  fromTag: string;
}

export function newClientRegistration(opts: { registrar: SipUri; aor: SipUri; contact: string; callIdHost: string }): ClientRegistrationIdentity {
  return { registrar: opts.registrar, aor: opts.aor, contact: opts.contact, callId: newCallId(opts.callIdHost), fromTag: newTag() };
}

/** A REGISTER of this binding with CSeq `seq`; `expires` 0 removes it (§10.2.2). */
export function buildRegister(id: ClientRegistrationIdentity, seq: number, expires: number, extraHeaders: Array<[string, string]> = []): SipRequest {
  const h = new SipHeaders();
  h.append('From', formatNameAddr({ uri: id.aor, params: { tag: id.fromTag } }));
  h.append('To', formatNameAddr({ uri: id.aor, params: {} }));
  h.append('Call-ID', id.callId);
  h.append('CSeq', `${seq} REGISTER`);
  h.append('Contact', id.contact);
  h.append('Expires', String(expires));
  h.append('Max-Forwards', '70');
  for (const [k, v] of extraHeaders) h.append(k, v);
  return new SipRequest({ method: 'REGISTER', uri: { ...id.registrar, user: undefined, params: { ...id.registrar.params }, headers: {} }, headers: h, body: Buffer.alloc(0) });
}

/**
 * The expiry the registrar granted our contact in a 2xx (§10.2.4): the `expires` parameter of
 * our Contact in the response, else the Expires header, else what we asked for.
 */
export function grantedExpires(res: SipResponse, ourContact: string, requested: number): number {
  const ours = contactKey(ourContact);
  for (const value of res.headers.getAll('Contact')) {
    let list;
    try {
      list = parseContactList(value);
    } catch {
      continue;
    }
    if (list === '*') continue;
    for (const c of list) {
      if (contactKey(formatNameAddr({ uri: c.uri, params: {} })) !== ours) continue;
      const e = Number(c.params['expires']);
      if (Number.isInteger(e) && e >= 0) return e;
    }
  }
  const header = Number(res.headers.get('Expires'));
  if (Number.isInteger(header) && header >= 0) return header;
  return requested;
}

/** user@host:port of a contact, for comparing what the registrar echoes with what we sent. */
function contactKey(contact: string): string {
  const m = /sips?:([^@>;]*@)?([^>;]+)/i.exec(contact);
  return m ? `${(m[1] ?? '').toLowerCase()}${m[2]!.toLowerCase()}` : contact;
}
