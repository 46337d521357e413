import { SipHeaders } from '../headers.ts';
import { cloneUri, SipRequest, type SipResponse } from '../message.ts';

/** Headers shared by ACK-for-non-2xx and CANCEL: the INVITE's top Via, From, Call-ID, Route. */
function baseHeaders(invite: SipRequest, method: string, to: string): SipHeaders {
  const h = new SipHeaders();
  const topVia = invite.headers.getAll('Via')[0];
  if (topVia !== undefined) h.append('Via', topVia);
  h.append('Max-Forwards', '70');
  for (const line of invite.headers.getLines('From')) h.append('From', line);
  h.append('To', to);
  for (const line of invite.headers.getLines('Call-ID')) h.append('Call-ID', line);
  h.append('CSeq', `${invite.cseq.seq} ${method}`);
  for (const line of invite.headers.getLines('Route')) h.append('Route', line);
  return h;
}

/**
 * RFC 3261 §17.1.1.3: the ACK for a 300–699 response belongs to the INVITE transaction: same
 * Request-URI, Call-ID, From, CSeq number and top Via (branch), To taken from the response.
 */
export function buildAckForNonSuccess(invite: SipRequest, response: SipResponse): SipRequest {
  const to = response.headers.get('To') ?? invite.headers.get('To') ?? '';
  return new SipRequest({ method: 'ACK', uri: cloneUri(invite.uri), headers: baseHeaders(invite, 'ACK', to) });
}

/** RFC 3261 §9.1: CANCEL copies Request-URI, Call-ID, To, From, CSeq number, top Via and Route. */
export function buildCancel(invite: SipRequest): SipRequest {
  const to = invite.headers.get('To') ?? '';
  return new SipRequest({ method: 'CANCEL', uri: cloneUri(invite.uri), headers: baseHeaders(invite, 'CANCEL', to) });
}
