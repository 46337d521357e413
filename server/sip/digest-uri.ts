import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { SipRequest } from './message.ts';
import { parseUri } from './uri.ts';

export interface DigestUriCheckOptions {
  /**
   * Further names of this switch accepted as the digest resource (the public address behind
   * NAT, a DNS name). The machine's own interface addresses are always accepted.
   */
  ownHosts?: Iterable<string>;
}

/**
 * Whether the `uri` of a digest answer names the resource of `req` (RFC 2617 §3.2.2.5,
 * RFC 7616 §3.4.6): scheme, user, host and port must be those of the Request-URI.
 *
 * One exception: devices set up with the switch as their proxy (and sipp) put the switch's own
 * address there while the Request-URI names the domain. That is accepted only for an address
 * that really is this switch — the listener's, or with a wildcard listener one of the machine's
 * interfaces (never "any IP") — and only with the Request-URI's user and scheme, so an answer
 * computed for another user's resource never authenticates this request.
 */
export function digestUriMatchesRequest(digestUri: string, req: SipRequest, opts: DigestUriCheckOptions = {}): boolean {
  let d;
  try {
    d = parseUri(digestUri);
  } catch {
    return false;
  }
  const r = req.uri;
  if (d.scheme !== r.scheme) return false;
  if ((d.user ?? '') !== (r.user ?? '')) return false;
  const host = unbracket(d.host.toLowerCase());
  if (host === unbracket(r.host.toLowerCase()) && (d.port ?? 0) === (r.port ?? 0)) return true;

  const local = req.localEndpoint;
  if (!local) return false;
  // No port check here: behind a port-forwarding NAT the port the phone dialled is not the one
  // the listener sees, and naming this host under another port gains an attacker nothing.
  return isOwnHost(host, unbracket(local.address.toLowerCase()), opts.ownHosts);
}

function isOwnHost(host: string, listener: string, extra: Iterable<string> | undefined): boolean {
  if (host === listener) return true;
  if (extra) for (const h of extra) if (unbracket(h.toLowerCase()) === host) return true;
  const wildcard = listener === '0.0.0.0' || listener === '::';
  if (!wildcard || isIP(host) === 0) return false;
  // An IPv4 wildcard socket never receives on an IPv6 address; "::" is dual-stack.
  if (listener === '0.0.0.0' && !isIPv4(host)) return false;
  return interfaceAddresses().has(host);
}

const INTERFACE_CACHE_MS = 30_000;
let interfaceCache: { at: number; addresses: Set<string> } | undefined;

/** Cached: addresses change rarely, and this runs on every authenticated REGISTER. */
function interfaceAddresses(): Set<string> {
  const now = Date.now();
  if (interfaceCache && now - interfaceCache.at < INTERFACE_CACHE_MS) return interfaceCache.addresses;
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) addresses.add(info.address.toLowerCase().replace(/%.*$/, ''));
  }
  interfaceCache = { at: now, addresses };
  return addresses;
}

function unbracket(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}
