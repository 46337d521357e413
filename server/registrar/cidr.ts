import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * A set of IPv4/IPv6 CIDRs ("192.0.2.0/24", "2001:db8::/32", or a bare address). Invalid
 * entries are reported, not silently trusted.
 */
export class CidrSet {
  private readonly list = new BlockList();
  readonly invalid: string[] = [];
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    let count = 0;
    for (const raw of cidrs) {
      const entry = raw.trim();
      if (!entry) continue;
      const slash = entry.indexOf('/');
      const address = unbracket(slash < 0 ? entry : entry.slice(0, slash));
      const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
      const max = family === 'ipv4' ? 32 : 128;
      const prefixText = slash < 0 ? String(max) : entry.slice(slash + 1);
      const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
      if (!family || !(prefix >= 0 && prefix <= max)) {
        this.invalid.push(raw);
        continue;
      }
      this.list.addSubnet(address, prefix, family);
      count++;
    }
    this.size = count;
  }

  contains(address: string): boolean {
    if (this.size === 0) return false;
    let a = unbracket(address);
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
    if (mapped) a = mapped[1];
    if (isIPv4(a)) return this.list.check(a, 'ipv4');
    if (isIPv6(a)) return this.list.check(a, 'ipv6');
    return false;
  }
}

function unbracket(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}
