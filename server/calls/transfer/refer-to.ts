import { parseNameAddr, type SipUri } from '../../sip/index.ts';

/** The Replaces of an attended transfer (RFC 3891), as carried in a Refer-To URI's headers. */
export interface ReplacesTarget {
  callId: string;
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
}

export interface ReferTarget {
  /** The target without URI headers (`?Replaces=…`): what a dialplan sees and dials. */
  uri: SipUri;
  /** The header value as received, for logs, events and the CDR. */
  text: string;
  replaces?: ReplacesTarget;
}

export type ReferToParse = { ok: true; target: ReferTarget } | { ok: false; reason: string };

/** Refer-To of a REFER (RFC 3515 §2.1): exactly one sip:/sips: URI; a tel: or junk value is refused with 400. */
export function parseReferTo(value: string | undefined): ReferToParse {
  if (!value || !value.trim()) return { ok: false, reason: 'Missing Refer-To' };
  let uri: SipUri;
  try {
    uri = parseNameAddr(value.trim()).uri;
  } catch {
    return { ok: false, reason: 'Malformed Refer-To' };
  }
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return { ok: false, reason: 'Refer-To must be a sip: URI' };
  const headers = Object.fromEntries(Object.entries(uri.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const replaces = headers['replaces'] !== undefined ? parseReplaces(headers['replaces']) : undefined;
  if (headers['replaces'] !== undefined && !replaces) return { ok: false, reason: 'Malformed Replaces in Refer-To' };
  return { ok: true, target: { uri: { ...uri, headers: {} }, text: value.trim(), replaces } };
}

/** A Replaces header value: `callid;to-tag=…;from-tag=…[;early-only]` (RFC 3891 §6.1). */
export function parseReplaces(value: string): ReplacesTarget | undefined {
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  if (!callId) return undefined;
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (const p of params) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? '' : p.slice(eq + 1);
    if (name === 'to-tag') toTag = v;
    else if (name === 'from-tag') fromTag = v;
    else if (name === 'early-only') earlyOnly = true;
  }
  if (!toTag || !fromTag) return undefined;
  return { callId, toTag, fromTag, earlyOnly };
}
