import { ReadThroughCache, type CallPolicy, type Database, type DatabaseHealth, type Provider, type ProviderSettings } from '../../db/index.ts';

/** A provider as a leg needs it, with its password in clear (to answer the provider's challenges). */
export interface ProviderRecord {
  id: number;
  tenantId: number;
  name: string;
  serverUri: string;
  outboundProxy: string | null;
  username: string | null;
  authUser: string | null;
  password?: string;
  register: boolean;
  registerExpiry: number;
  fromUser: string | null;
  customHeaders: Record<string, string>;
  settings: ProviderSettings;
}

/** Where providers and tenants' destination policies come from (db, or a fake in tests). */
export interface ProviderSource {
  find(tenantId: number, name: string): Promise<ProviderRecord | undefined>;
  policy(tenantId: number): Promise<CallPolicy>;
}

/** Entries are re-read after this long, so `patchbay provider set` reaches a running server. */
const CACHE_TTL_MS = 30_000;
const MAX_CACHED = 10_000;

/**
 * Providers and policies from the database, cached for 30 s (no database round trip per
 * INVITE). Unknown names are cached too, so dialling made-up providers costs nothing. A re-read
 * that fails (database down) keeps the last known record, so provider calls go on.
 */
export class DbProviderSource implements ProviderSource {
  private readonly providers: ReadThroughCache<ProviderRecord | undefined>;
  private readonly policies: ReadThroughCache<CallPolicy>;

  constructor(private readonly db: Database, now: () => number = () => Date.now(), health?: DatabaseHealth) {
    this.providers = new ReadThroughCache({ freshMs: CACHE_TTL_MS, maxEntries: MAX_CACHED, health, now });
    this.policies = new ReadThroughCache({ freshMs: CACHE_TTL_MS, maxEntries: MAX_CACHED, health, now });
  }

  invalidate(): void {
    this.providers.invalidate();
    this.policies.invalidate();
  }

  async find(tenantId: number, name: string): Promise<ProviderRecord | undefined> {
    return this.providers.get(`${tenantId}\u0000${name}`, async () => {
      const p = await this.db.providers.findByName(tenantId, name);
      return p ? this.record(p) : undefined;
    });
  }

  /** Every provider of every tenant, read now (the registration agent's sync). */
  async listAll(): Promise<ProviderRecord[]> {
    return Promise.all((await this.db.providers.listAll()).map((p) => this.record(p)));
  }

  private async record(p: Provider): Promise<ProviderRecord> {
    const password = p.hasPassword ? await this.db.providers.revealPassword(p.id) : undefined;
    return {
      id: p.id, tenantId: p.tenantId, name: p.name, serverUri: p.serverUri, outboundProxy: p.outboundProxy,
      username: p.username, authUser: p.authUser, password, register: p.register, registerExpiry: p.registerExpiry,
      fromUser: p.fromUser, customHeaders: p.customHeaders, settings: p.settings,
    };
  }

  async policy(tenantId: number): Promise<CallPolicy> {
    return this.policies.get(String(tenantId), () => this.db.callPolicies.get(tenantId));
  }
}
