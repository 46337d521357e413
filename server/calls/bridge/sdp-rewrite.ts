import { isIP } from 'node:net';
import { parse as parseSdp } from 'sdp-transform';
import { isNatPrivateAddress, unmapIpv4 } from './ip-address-class.ts';

export interface SdpRewriteOptions {
  /** The leg's `ma` option; false leaves the SDP alone. Default true. */
  mangle?: boolean;
}

export interface SdpRewriteResult { sdp: string; changed: boolean }

/**
 * NAT fix-up for a phone behind a NAT (what Kamailio's fix_nated_sdp does): every `c=`, `o=` and
 * `a=rtcp:` address that is private (RFC 1918, 100.64/10, link-local, fc00::/7, fe80::/10) and
 * differs from the packet's source address is replaced by the source address. Unspecified
 * addresses (0.0.0.0 / :: — the old hold form) and public ones stay. sdp-transform parses the
 * body to find the addresses; the output is the input with only those lines edited, so
 * direction attributes, codecs, ptime, attribute order and line endings are kept byte for byte.
 */
export function rewriteSdpForNat(sdp: string, source: { address: string }, opts: SdpRewriteOptions = {}): SdpRewriteResult {
  const unchanged = { sdp, changed: false };
  if (opts.mangle === false) return unchanged;
  const src = unmapIpv4(source.address);
  const srcVersion = isIP(src);
  if (srcVersion === 0) return unchanged;

  const needsRewrite = (address: string | undefined): boolean => {
    if (!address) return false;
    const bare = address.split('/')[0]; // multicast c= may carry /ttl
    return bare !== src && isNatPrivateAddress(bare);
  };

  let parsed: ReturnType<typeof parseSdp>;
  try {
    parsed = parseSdp(sdp);
  } catch {
    return unchanged;
  }
  const addresses = [
    parsed.connection?.ip,
    parsed.origin?.address,
    ...(parsed.media ?? []).flatMap((m) => [m.connection?.ip, m.rtcp?.address]),
  ];
  if (!addresses.some(needsRewrite)) return unchanged;

  const ipVersion = srcVersion === 6 ? 'IP6' : 'IP4';
  let changed = false;
  const lines = sdp.split('\n').map((raw) => {
    const cr = raw.endsWith('\r') ? '\r' : '';
    const line = cr ? raw.slice(0, -1) : raw;
    let m = /^c=IN IP[46] (\S+)$/.exec(line);
    if (m && needsRewrite(m[1])) { changed = true; return `c=IN ${ipVersion} ${src}${cr}`; }
    m = /^(o=\S+ \S+ \S+) IN IP[46] (\S+)$/.exec(line);
    if (m && needsRewrite(m[2])) { changed = true; return `${m[1]} IN ${ipVersion} ${src}${cr}`; }
    m = /^(a=rtcp:\d+) IN IP[46] (\S+)$/.exec(line);
    if (m && needsRewrite(m[2])) { changed = true; return `${m[1]} IN ${ipVersion} ${src}${cr}`; }
    return raw;
  });
  return changed ? { sdp: lines.join('\n'), changed } : unchanged;
}

/** An answer refusing every stream (port 0, RFC 3264 §6) — dest1 needs one before its BYE. */
export function rejectAllMedia(offer: string): string {
  return offer.split(/\r?\n/).map((l) => l.replace(/^m=(\S+) \d+/, 'm=$1 0')).join('\r\n');
}
