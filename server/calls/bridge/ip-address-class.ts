import { isIP } from 'node:net';

/**
 * What kind of network an IP literal belongs to. Used to decide whether SDP
 * addresses are behind a NAT and whether WebGet may connect to an address.
 */
export type IpAddressClass =
  | 'public'
  | 'private'        // RFC 1918, IPv6 unique-local fc00::/7
  | 'cgnat'          // 100.64.0.0/10 (RFC 6598)
  | 'link-local'     // 169.254/16, fe80::/10
  | 'loopback'       // 127/8, ::1
  | 'unspecified'    // 0.0.0.0, ::  (0.0.0.0 is also the RFC 2543 "hold" address)
  | 'multicast'      // 224/4, ff00::/8
  | 'reserved'       // 0/8, 240/4 (incl. broadcast), other special-purpose blocks
  | 'invalid';

/** Parses a dotted-quad into a 32-bit unsigned number, or undefined. */
function ipv4ToNumber(text: string): number | undefined {
  if (isIP(text) !== 4) return undefined;
  const parts = text.split('.').map(Number);
  return (((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]) >>> 0;
}

/** Expands an IPv6 literal (no brackets, no zone) into 8 16-bit groups. */
function ipv6ToGroups(text: string): number[] | undefined {
  const zoneless = text.split('%')[0];
  if (isIP(zoneless) !== 6) return undefined;
  let head = zoneless;
  const tailGroups: number[] = [];
  // An embedded dotted-quad (::ffff:1.2.3.4) becomes two groups.
  const lastColon = head.lastIndexOf(':');
  const lastPart = head.slice(lastColon + 1);
  if (lastPart.includes('.')) {
    const v4 = ipv4ToNumber(lastPart);
    if (v4 === undefined) return undefined;
    head = head.slice(0, lastColon + 1) + '0:0';
    tailGroups.push(v4 >>> 16, v4 & 0xffff);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right ? right.split(':') : [];
  const missing = 8 - leftGroups.length - rightGroups.length;
  const all = right === undefined ? leftGroups : [...leftGroups, ...Array<string>(missing).fill('0'), ...rightGroups];
  if (all.length !== 8) return undefined;
  const groups = all.map((g) => parseInt(g, 16));
  if (tailGroups.length) groups.splice(6, 2, ...tailGroups);
  return groups;
}

function inV4(n: number, base: string, prefix: number): boolean {
  const b = ipv4ToNumber(base)!;
  if (prefix === 0) return true;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return ((n & mask) >>> 0) === ((b & mask) >>> 0);
}

function classifyIpv4(n: number): IpAddressClass {
  if (n === 0) return 'unspecified';
  if (inV4(n, '127.0.0.0', 8)) return 'loopback';
  if (inV4(n, '10.0.0.0', 8) || inV4(n, '172.16.0.0', 12) || inV4(n, '192.168.0.0', 16)) return 'private';
  if (inV4(n, '100.64.0.0', 10)) return 'cgnat';
  if (inV4(n, '169.254.0.0', 16)) return 'link-local';
  if (inV4(n, '224.0.0.0', 4)) return 'multicast';
  if (inV4(n, '0.0.0.0', 8) || inV4(n, '240.0.0.0', 4) || inV4(n, '192.0.0.0', 24) || inV4(n, '198.18.0.0', 15)) {
    return 'reserved';
  }
  return 'public';
}

/** Classifies an IPv4 or IPv6 literal (IPv6 without brackets). IPv4-mapped/compatible IPv6 is classified as its IPv4 address. */
export function classifyIpAddress(address: string): IpAddressClass {
  const v4 = ipv4ToNumber(address);
  if (v4 !== undefined) return classifyIpv4(v4);
  const g = ipv6ToGroups(address);
  if (!g) return 'invalid';
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible) carry an IPv4 address.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    return classifyIpv4(((g[6] << 16) >>> 0) + g[7]);
  }
  // 64:ff9b::/96 NAT64 well-known prefix embeds an IPv4 address as well.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return classifyIpv4(((g[6] << 16) >>> 0) + g[7]);
  }
  if ((g[0] & 0xfe00) === 0xfc00) return 'private';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if ((g[0] & 0xffc0) === 0xfec0) return 'reserved'; // deprecated site-local
  return 'public';
}

/** Addresses a phone behind a NAT typically puts in its SDP. */
export function isNatPrivateAddress(address: string): boolean {
  const c = classifyIpAddress(address);
  return c === 'private' || c === 'cgnat' || c === 'link-local';
}

/** Converts ::ffff:1.2.3.4 to 1.2.3.4; other addresses are returned unchanged (IPv6 without brackets). */
export function unmapIpv4(address: string): string {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  return m && isIP(m[1]) === 4 ? m[1] : bare;
}
