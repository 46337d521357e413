import type { CallPolicy, Database, Provider, ProviderSettings } from '../../db/index.ts';

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
 * INVITE). Unknown names are cached too, so dialling made-up providers costs nothing.
 */
export class DbProviderSource implements ProviderSource {
  private readonly providers = new Map<string, { at: number; value: ProviderRecord | undefined }>();
  private readonly policies = new Map<number, { at: number; value: CallPolicy }>();

  constructor(private readonly db: Database, private readonly now: () => number = () => Date.now()) {}

  invalidate(): void {
    this.providers.clear();
    this.policies.clear();
  }

  async find(tenantId: number, name: string): Promise<ProviderRecord | undefined> {
    const key = `${tenantId}\u0000${name}`;
    const hit = this.providers.get(key);
    if (hit && this.now() - hit.at < CACHE_TTL_MS) return hit.value;
    const p = await this.db.providers.findByName(tenantId, name);
    const value = p ? await this.record(p) : undefined;
    if (this.providers.size >= MAX_CACHED) this.providers.clear();
    this.providers.set(key, { at: this.now(), value });
    return value;
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
    const hit = this.policies.get(tenantId);
    if (hit && this.now() - hit.at < CACHE_TTL_MS) return hit.value;
    const value = await this.db.callPolicies.get(tenantId);
    if (this.policies.size >= MAX_CACHED) this.policies.clear();
    this.policies.set(tenantId, { at: this.now(), value });
    return value;
  }
}
