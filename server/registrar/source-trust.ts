import type { Endpoint } from '../sip/index.ts';
import type { AccountAuth } from './account-directory.ts';
import { CidrSet } from './cidr.ts';

/**
 * What an account's source CIDRs mean for one request:
 * - `trusted`: no digest needed (inside the CIDRs over a connection transport, or over UDP for
 *   an account that explicitly opted into `trustUdpSource`);
 * - `digest-required`: challenge as usual (no CIDRs, or inside them over UDP);
 * - `forbidden`: the account has CIDRs and the source is outside them (or unknown).
 */
export type SourceTrust = 'trusted' | 'digest-required' | 'forbidden';

export type SourceTrustAccount = Pick<AccountAuth, 'allowedCidrs' | 'trustUdpSource'>;

/**
 * The one rule for source-address trust, shared by REGISTER and INVITE so the two can never
 * drift apart. A UDP source address is whatever the sender wrote in the IP header: trusting it
 * alone lets anyone who knows (or guesses) an allowed network register or call as the account.
 * A TCP/TLS/WS source has completed a handshake, so it is at least routable back to the sender.
 */
export function sourceTrust(account: SourceTrustAccount, source: Pick<Endpoint, 'transport' | 'address'> | undefined): SourceTrust {
  if (account.allowedCidrs.length === 0) return 'digest-required';
  if (!source || !cidrSetOf(account.allowedCidrs).contains(source.address)) return 'forbidden';
  if (source.transport !== 'udp') return 'trusted';
  return account.trustUdpSource === true ? 'trusted' : 'digest-required';
}

const MAX_CACHED_SETS = 10_000;
const cache = new Map<string, CidrSet>();

/** Parsed sets by list text: accounts share a handful of lists and parsing per request shows. */
function cidrSetOf(list: readonly string[]): CidrSet {
  const key = list.join(',');
  let set = cache.get(key);
  if (!set) {
    set = new CidrSet(list);
    if (cache.size >= MAX_CACHED_SETS) cache.clear();
    cache.set(key, set);
  }
  return set;
}
