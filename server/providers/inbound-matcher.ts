import net from 'node:net';
import { ReadThroughCache, type Database, type DatabaseHealth, type Did, type Tenant } from '../../db/index.ts';
import type { ProviderRecord } from './provider-directory.ts';

export type InboundMatch =
  /** Not a provider's request (ordinary routing goes on). */
  | { kind: 'none' }
  /** Claims a provider's number or contact but does not come from that provider. */
  | { kind: 'refused'; reason: string }
  | {
      kind: 'provider';
      tenant: { id: number; domain: string };
      provider: { id: number; name: string };
      /** The dialled number when a DID matched. */
      did?: string;
      /** DID: the account that takes the call. */
      accountUsername?: string;
      /** DID: the dialplan to run (else the account's, else the tenant's `incoming`). */
      dialplan?: string;
    };

export interface InboundRequestView {
  requestUser?: string;
  toUser?: string;
  sourceAddress?: string;
}

export interface InboundMatcherDeps {
  db: Database;
  /** The provider that registered this contact user (registration agent). */
  registeredContact(user: string): ProviderRecord | undefined;
  resolve(host: string): Promise<string[]>;
  now?: () => number;
  /** While the database is down the last known DIDs, tenants and providers are served. */
  health?: DatabaseHealth;
}

const CACHE_TTL_MS = 30_000;
const MAX_CACHED = 10_000;

/**
 * Recognises calls from providers (DESIGN.md step 3): the Request-URI user is the contact a
 * provider registration put there, or the Request-URI/To user is a DID. Either way the source
 * must be one of that provider's addresses (its server's and outbound proxy's resolved hosts),
 * so nobody else reaches a tenant's incoming dialplan by dialling its number at the switch.
 */
export class InboundProviderMatcher {
  private readonly dids: ReadThroughCache<Did | undefined>;
  private readonly tenants: ReadThroughCache<Tenant | undefined>;
  private readonly providerRows: ReadThroughCache<ProviderRecord[]>;
  private readonly sources = new Map<number, { at: number; value: Set<string> }>();
  private readonly now: () => number;

  constructor(private readonly deps: InboundMatcherDeps) {
    this.now = deps.now ?? (() => Date.now());
    const cache = { freshMs: CACHE_TTL_MS, maxEntries: MAX_CACHED, health: deps.health, now: this.now };
    this.dids = new ReadThroughCache(cache);
    this.tenants = new ReadThroughCache(cache);
    this.providerRows = new ReadThroughCache(cache);
  }

  invalidate(): void {
    this.dids.invalidate();
    this.tenants.invalidate();
    this.providerRows.invalidate();
    this.sources.clear();
  }

  private tenant(id: number): Promise<Tenant | undefined> {
    return this.tenants.get(String(id), () => this.deps.db.tenants.get(id));
  }

  async match(req: InboundRequestView): Promise<InboundMatch> {
    const registered = req.requestUser ? this.deps.registeredContact(req.requestUser) : undefined;
    const did = (await this.did(req.requestUser)) ?? (registered ? await this.did(req.toUser) : undefined);
    if (registered) {
      if (!(await this.fromProvider(registered, req.sourceAddress))) return { kind: 'refused', reason: 'Not from the provider' };
      const tenant = await this.tenant(registered.tenantId);
      if (!tenant) return { kind: 'none' };
      const sameTenantDid = did && did.tenantId === registered.tenantId && (did.providerId === null || did.providerId === registered.id) ? did : undefined;
      return {
        kind: 'provider', tenant: { id: tenant.id, domain: tenant.domain }, provider: { id: registered.id, name: registered.name },
        did: sameTenantDid?.number, accountUsername: sameTenantDid?.accountUsername ?? undefined, dialplan: sameTenantDid?.dialplan ?? undefined,
      };
    }
    if (!did) return { kind: 'none' };
    const candidates = did.providerId !== null
      ? [await this.provider(did.providerId)].filter((p): p is ProviderRecord => p !== undefined)
      : await this.providersOf(did.tenantId);
    let from: ProviderRecord | undefined;
    for (const p of candidates) if (await this.fromProvider(p, req.sourceAddress)) from = p;
    if (!from) return { kind: 'refused', reason: 'Not from the provider' };
    const tenant = await this.tenant(did.tenantId);
    if (!tenant) return { kind: 'none' };
    return {
      kind: 'provider', tenant: { id: tenant.id, domain: tenant.domain }, provider: { id: from.id, name: from.name },
      did: did.number, accountUsername: did.accountUsername ?? undefined, dialplan: did.dialplan ?? undefined,
    };
  }

  private async did(user: string | undefined): Promise<Did | undefined> {
    if (!user || !/^\+?[0-9()\s.\-/]{2,32}$/.test(user)) return undefined;
    try {
      return await this.dids.get(user, () => this.deps.db.dids.findByNumber(user));
    } catch (err) {
      // A number never looked up before cannot be checked while the database is down: no DID
      // match, so ordinary routing (from memory) goes on rather than failing the call.
      if (this.deps.health && !this.deps.health.reachable) return undefined;
      throw err;
    }
  }

  private async provider(id: number): Promise<ProviderRecord | undefined> {
    return (await this.providerRows.get(`p${id}`, async () => {
      const p = await this.deps.db.providers.get(id);
      return p ? [{ ...p, password: undefined }] : [];
    }))[0];
  }

  private async providersOf(tenantId: number): Promise<ProviderRecord[]> {
    return this.providerRows.get(`t${tenantId}`, async () => (await this.deps.db.providers.list(tenantId)).map((p) => ({ ...p, password: undefined })));
  }

  /** The source is one of the provider's hosts (resolved, cached 30 s). */
  private async fromProvider(p: ProviderRecord, source: string | undefined): Promise<boolean> {
    if (!source) return false;
    const address = source.startsWith('::ffff:') ? source.slice(7) : source;
    const hit = this.sources.get(p.id);
    let set = hit && this.now() - hit.at < CACHE_TTL_MS ? hit.value : undefined;
    if (!set) {
      set = new Set<string>();
      for (const uri of [p.serverUri, p.outboundProxy]) {
        const host = uri ? hostOf(uri) : undefined;
        if (!host) continue;
        if (net.isIP(host)) set.add(host);
        else for (const a of await this.deps.resolve(host).catch(() => [] as string[])) set.add(a);
      }
      if (this.sources.size >= MAX_CACHED) this.sources.clear();
      this.sources.set(p.id, { at: this.now(), value: set });
    }
    if (set.has(address)) return true;
    return inNetworks(address, p.settings.sourceNetworks ?? []);
  }
}

function hostOf(uri: string): string | undefined {
  const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)/i.exec(uri);
  return m ? m[1]!.replace(/^\[|\]$/g, '').toLowerCase() : undefined;
}

function inNetworks(address: string, cidrs: string[]): boolean {
  if (cidrs.length === 0) return false;
  const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const list = new net.BlockList();
  for (const c of cidrs) {
    const [base = '', prefix] = c.split('/');
    const f = net.isIP(base) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(base, f);
    else list.addSubnet(base, Number(prefix), f);
  }
  return list.check(address, family);
}
