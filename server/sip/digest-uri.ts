import { isIP } from 'node:net';
import type { SipRequest } from './message.ts';
import { parseUri } from './uri.ts';

/**
 * Whether the `uri` of a digest answer names the resource of `req` (RFC 2617 §3.2.2.5).
 * Besides the Request-URI itself, the switch's own address is accepted: devices set up with the
 * switch as their proxy (and sipp) put that address there while the Request-URI names the
 * domain. The response hashes the uri it claims, so this costs nothing in replay protection.
 */
export function digestUriMatchesRequest(digestUri: string, req: SipRequest): boolean {
  let d;
  try {
    d = parseUri(digestUri);
  } catch {
    return false;
  }
  if (d.scheme !== 'sip' && d.scheme !== 'sips') return false;
  const host = d.host.toLowerCase();
  const r = req.uri;
  if (d.scheme === r.scheme && host === r.host.toLowerCase() && (d.user ?? '') === (r.user ?? '') && (d.port ?? 0) === (r.port ?? 0)) {
    return true;
  }
  const local = req.localEndpoint;
  if (!local) return false;
  const wildcard = local.address === '0.0.0.0' || local.address === '::';
  return host === local.address.toLowerCase() || (wildcard && isIP(host) !== 0);
}
