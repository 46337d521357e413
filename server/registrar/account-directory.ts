/**
 * What the registrar needs to know about tenants and SIP accounts. The lead wires these to
 * db/ repositories (through an in-memory cache: no database round trip on the REGISTER path).
 */

export interface TenantRef {
  id: number;
  /** The tenant's primary domain; also the digest realm its accounts' HA1 values use. */
  domain: string;
}

export type KeepAliveMethod = 'crlf' | 'options';

export interface AccountAuth {
  id: number;
  tenantId: number;
  username: string;
  /** HA1 = MD5(username:realm:password), realm = tenant primary domain. */
  ha1Md5: string;
  /** HA1 = SHA-256(username:realm:password). */
  ha1Sha256: string;
  disabled: boolean;
  /** NAT keep-alives and qualify probes for this account's bindings. */
  natKeepAlive: boolean;
  /** How keep-alives are sent to UDP bindings; default CRLF. */
  keepAliveMethod?: KeepAliveMethod;
  /**
   * Source CIDRs (IPv4 or IPv6, e.g. "192.0.2.0/24", "2001:db8::/32"). When set, requests from
   * elsewhere are refused; inside them a connection transport (TCP/TLS/WS) needs no challenge,
   * UDP still does unless `trustUdpSource` (see `sourceTrust`).
   */
  allowedCidrs: string[];
  /**
   * Trust the CIDRs alone over UDP too. UDP source addresses can be forged, so this is an
   * explicit, per-account opt-in; absent (an older database without the column) means false.
   */
  trustUdpSource?: boolean;
}

export interface AccountDirectory {
  /** The tenant serving `domain` (primary domain or alias, lower-case), if any. */
  tenantForDomain(domain: string): Promise<TenantRef | undefined>;
  /** The account `user` of the tenant whose primary domain is `domain`. */
  find(user: string, domain: string): Promise<AccountAuth | undefined>;
}
