import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Endpoint } from './message.ts';
import type { SipUri } from './uri.ts';

/**
 * Locating SIP servers (RFC 3263 §4): NAPTR → SRV → A/AAAA. The result is every target in the
 * order to try them, so a caller that gets no answer (timeout, 503, transport error) from one
 * moves on to the next within the same request (§4.3).
 */

export interface NaptrAnswer { flags: string; service: string; regexp: string; replacement: string; order: number; preference: number }
export interface SrvAnswer { name: string; port: number; priority: number; weight: number }
export interface AddressAnswer { address: string; ttl: number }

/** The lookups used (node:dns by default; tests and operators may point it elsewhere). */
export interface SipDns {
  resolveNaptr(name: string): Promise<NaptrAnswer[]>;
  resolveSrv(name: string): Promise<SrvAnswer[]>;
  resolve4(name: string): Promise<AddressAnswer[]>;
  resolve6(name: string): Promise<AddressAnswer[]>;
}

/** node:dns gives no TTL for NAPTR and SRV: those answers are kept this long. */
export const SRV_CACHE_SECONDS = 60;
/** A name that does not exist is asked again after this long. */
export const NEGATIVE_CACHE_SECONDS = 30;
const MAX_CACHE_ENTRIES = 10_000;

export function nodeSipDns(servers?: string[]): SipDns {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  if (servers?.length) r.setServers(servers);
  return {
    resolveNaptr: (n) => r.resolveNaptr(n),
    resolveSrv: (n) => r.resolveSrv(n),
    resolve4: (n) => r.resolve4(n, { ttl: true }),
    resolve6: (n) => r.resolve6(n, { ttl: true }),
  };
}

type Transport = Endpoint['transport'];

const NAPTR_SERVICES: Record<string, Transport> = { 'SIP+D2U': 'udp', 'SIP+D2T': 'tcp', 'SIPS+D2T': 'tls' };
const SRV_PREFIX: Record<'udp' | 'tcp' | 'tls', string> = { udp: '_sip._udp.', tcp: '_sip._tcp.', tls: '_sips._tcp.' };

export interface SipServerResolverOptions {
  dns?: SipDns;
  now?: () => number;
  /** Weighted choice within one SRV priority (RFC 2782); tests fix it. */
  random?: () => number;
}

export class SipServerResolver {
  private readonly dns: SipDns;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly cache = new Map<string, { until: number; value: unknown }>();

  constructor(opts: SipServerResolverOptions = {}) {
    this.dns = opts.dns ?? nodeSipDns();
    this.now = opts.now ?? (() => Date.now());
    this.random = opts.random ?? Math.random;
  }

  /** Targets for `uri` in the order to try; empty when the name does not resolve. */
  async resolve(uri: SipUri): Promise<Endpoint[]> {
    const targets = await this.locate(uri);
    const host = uri.params['maddr'] ?? uri.host;
    if (isIP(host)) return targets;
    return targets.map((t) => (t.transport === 'tls' ? { ...t, serverName: host } : t));
  }

  private async locate(uri: SipUri): Promise<Endpoint[]> {
    const host = uri.params['maddr'] ?? uri.host;
    const secure = uri.scheme === 'sips';
    const param = uri.params['transport']?.toLowerCase();
    const explicit: Transport | undefined = secure ? 'tls' : param === 'tcp' || param === 'tls' || param === 'udp' ? param : undefined;
    const defaultPort = (t: Transport): number => (t === 'tls' ? 5061 : 5060);
    // §4.1/§4.2: a numeric host or an explicit port needs no NAPTR/SRV.
    if (isIP(host)) {
      const t = explicit ?? 'udp';
      return [{ transport: t, address: host, port: uri.port ?? defaultPort(t) }];
    }
    if (uri.port !== undefined) {
      const t = explicit ?? 'udp';
      return (await this.addresses(host)).map((address) => ({ transport: t, address, port: uri.port! }));
    }
    let srvNames: Array<{ name: string; transport: Transport }> = [];
    if (explicit) srvNames = [{ name: SRV_PREFIX[explicit as 'udp' | 'tcp' | 'tls'] + host, transport: explicit }];
    else {
      const naptr = (await this.cached(`naptr:${host}`, SRV_CACHE_SECONDS, () => this.dns.resolveNaptr(host))) ?? [];
      const usable = naptr
        .filter((n) => n.flags.toLowerCase() === 's' && NAPTR_SERVICES[n.service.toUpperCase()] && (!secure || n.service.toUpperCase() === 'SIPS+D2T'))
        .sort((a, b) => a.order - b.order || a.preference - b.preference);
      srvNames = usable.map((n) => ({ name: n.replacement, transport: NAPTR_SERVICES[n.service.toUpperCase()]! }));
      // §4.1: no NAPTR → SRV for each transport we speak (TLS first for sips).
      if (srvNames.length === 0) srvNames = (secure ? ['tls'] : ['udp', 'tcp', 'tls']).map((t) => ({ name: SRV_PREFIX[t as 'udp' | 'tcp' | 'tls'] + host, transport: t as Transport }));
    }
    const out: Endpoint[] = [];
    let anySrv = false;
    for (const { name, transport } of srvNames) {
      const srv = (await this.cached(`srv:${name}`, SRV_CACHE_SECONDS, () => this.dns.resolveSrv(name))) ?? [];
      if (srv.length) anySrv = true;
      for (const s of this.orderSrv(srv)) {
        for (const address of await this.addresses(s.name)) out.push({ transport, address, port: s.port });
      }
      // The first transport that has servers is the one used (§4.1: the client picks one).
      if (out.length) break;
    }
    if (out.length || anySrv) return out;
    const t = explicit ?? (secure ? 'tls' : 'udp');
    return (await this.addresses(host)).map((address) => ({ transport: t, address, port: defaultPort(t) }));
  }

  /** RFC 2782: lowest priority first; within one, a weighted random order (weight 0 last-ish). */
  orderSrv(records: SrvAnswer[]): SrvAnswer[] {
    const byPriority = new Map<number, SrvAnswer[]>();
    for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
    const out: SrvAnswer[] = [];
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const pool = [...byPriority.get(p)!].sort((a, b) => a.weight - b.weight);
      while (pool.length) {
        const total = pool.reduce((s, r) => s + r.weight, 0);
        let pick = 0;
        if (total > 0) {
          let point = this.random() * total;
          pick = pool.findIndex((r) => (point -= r.weight) < 0);
          if (pick < 0) pick = pool.length - 1;
        }
        out.push(pool.splice(pick, 1)[0]!);
      }
    }
    return out;
  }

  private async addresses(name: string): Promise<string[]> {
    const v4 = await this.addressLookup(`a:${name}`, () => this.dns.resolve4(name));
    const v6 = await this.addressLookup(`aaaa:${name}`, () => this.dns.resolve6(name));
    return [...v4, ...v6];
  }

  private async addressLookup(key: string, lookup: () => Promise<AddressAnswer[]>): Promise<string[]> {
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.value as string[];
    let answers: AddressAnswer[] = [];
    try {
      answers = await lookup();
    } catch {
      answers = [];
    }
    const ttl = answers.length ? Math.max(1, Math.min(...answers.map((a) => a.ttl))) : NEGATIVE_CACHE_SECONDS;
    const value = answers.map((a) => a.address);
    this.store(key, ttl, value);
    return value;
  }

  private async cached<T>(key: string, ttlSeconds: number, lookup: () => Promise<T>): Promise<T | undefined> {
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.value as T | undefined;
    let value: T | undefined;
    try {
      value = await lookup();
    } catch {
      value = undefined;
    }
    this.store(key, value === undefined ? NEGATIVE_CACHE_SECONDS : ttlSeconds, value);
    return value;
  }

  private store(key: string, ttlSeconds: number, value: unknown): void {
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, { until: this.now() + ttlSeconds * 1000, value });
  }
}
