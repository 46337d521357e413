import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Endpoint } from '../../sip/index.ts';
import { classifyIpAddress, unmapIpv4 } from '../bridge/index.ts';
import { isForbiddenWebGetAddress } from '../dialplan/index.ts';

/**
 * Which addresses a leg the tenant chose by address (sip: URI, ENUM result, followed 3xx) may be
 * sent to (DESIGN.md "Trust and money"). Without this a dialplan, or a remote party answering
 * 302, could make the switch talk SIP to the operator's Redis, metadata service or its own
 * listeners. Legs to a tenant account's registered bindings never come here: those phones sit
 * on private networks behind NAT by nature.
 *
 * - Only public addresses (the same classification WebGet uses), on the SIP port of the
 *   transport, unless the address lies in an operator allow-listed network (any port there).
 * - Never the switch's own listeners, allow-listed or not: that is a loop, not a destination.
 */
export const DESTINATION_NOT_ALLOWED = 'Destination not allowed';

export interface LegDestinationPolicyOptions {
  /** CIDRs (or single addresses) the operator allows legs to reach on any port (PATCHBAY_ALLOWED_LEG_NETWORKS). */
  allowedNetworks?: readonly string[];
  /** The stack's listeners; read on every check because ports are bound after start. */
  listeners?: () => ReadonlyArray<{ host: string; port: number }>;
}

/** The well-known port per transport (RFC 3261 §19.1.2, RFC 7118 for WebSocket). */
export function sipPortFor(transport: Endpoint['transport']): number {
  return transport === 'tls' || transport === 'wss' ? 5061 : 5060;
}

/** Parses `a.b.c.d/n`, `v6/n` or a bare address into a BlockList; throws on anything else. */
export function networkBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of cidrs) {
    const text = raw.trim();
    if (text === '') continue;
    const slash = text.indexOf('/');
    const address = slash < 0 ? text : text.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new Error(`not an IP network: ${JSON.stringify(raw)}`);
    const max = family === 4 ? 32 : 128;
    const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) throw new Error(`bad prefix length in ${JSON.stringify(raw)}`);
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

function hostAddresses(): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(i.address);
  return out;
}

export class LegDestinationPolicy {
  private readonly allowed: BlockList;
  private readonly hasAllowed: boolean;

  constructor(private readonly opts: LegDestinationPolicyOptions = {}) {
    this.allowed = networkBlockList(opts.allowedNetworks ?? []);
    this.hasAllowed = (opts.allowedNetworks ?? []).some((n) => n.trim() !== '');
  }

  /** Why `flow` may not be dialled, or undefined when it may. */
  problem(flow: Endpoint): string | undefined {
    const address = unmapIpv4(flow.address);
    if (isIP(address) === 0) return `${flow.address} is not an IP address`;
    if (this.isOwnListener(address, flow.port)) return `${address}:${flow.port} is this switch`;
    if (this.hasAllowed && this.allowed.check(address, familyOf(address))) return undefined;
    if (isForbiddenWebGetAddress(address)) return `${address} is ${classifyIpAddress(address)}`;
    const port = sipPortFor(flow.transport);
    if (flow.port !== port) return `port ${flow.port} is not the ${flow.transport} SIP port ${port}`;
    return undefined;
  }

  private isOwnListener(address: string, port: number): boolean {
    const listeners = this.opts.listeners?.() ?? [];
    let local: Set<string> | undefined;
    for (const l of listeners) {
      if (l.port !== port) continue;
      const host = unmapIpv4(l.host);
      if (host === address) return true;
      // A wildcard listener answers on every address of the host, and on the wildcard itself.
      if (classifyIpAddress(host) === 'unspecified') {
        if (classifyIpAddress(address) === 'unspecified') return true;
        local ??= hostAddresses();
        if (local.has(address)) return true;
      }
    }
    return false;
  }
}
