import { withDeadline, type Database, type DatabaseHealth, type SipAccount, type Tenant } from '../../db/index.ts';
import type { AccountAuth, AccountDirectory, TenantRef } from './account-directory.ts';
import { NegativeCache } from './negative-cache.ts';

interface Cached<T> {
  value: T;
  fetchedAt: number;
  refreshing?: Promise<void>;
  /** Invalidated by an admin write: re-read before use, but served if the database cannot answer. */
  stale?: boolean;
}

export interface DbAccountDirectoryOptions {
  db: Database;
  /** After this an entry is re-read in the background (the CLI may have changed it). */
  refreshAfterMs?: number;
  /** How long "no such account/domain" is believed, so a scan cannot hammer the database. */
  negativeTtlMs?: number;
  /** Bound on remembered misses (tenants and accounts together). Default 10 000. */
  maxNegativeEntries?: number;
  now?: () => number;
  /** While the database is down, invalidated entries are served as they were, without waiting. */
  health?: DatabaseHealth;
  /** Longest a lookup waits on the re-read of an invalidated entry before it serves the old one. */
  maxWaitMs?: number;
  /**
   * Changes accepted but not yet in the database (a phone's *78 in the write journal), laid over
   * each account found: what the database says lags them, during an outage by minutes.
   */
  overlay?: (account: SipAccount) => SipAccount;
}

/**
 * Accounts and tenants served from memory for the REGISTER and INVITE paths. Everything is
 * loaded at start; a miss asks the database once (accounts added by the CLI while running),
 * and a stale hit is answered from memory while a background read refreshes it.
 */
export class DbAccountDirectory implements AccountDirectory {
  private readonly tenants = new Map<string, Cached<TenantRef>>();
  private readonly accounts = new Map<string, Cached<SipAccount>>();
  private readonly refreshAfterMs: number;
  private readonly now: () => number;
  private readonly misses: NegativeCache;

  constructor(private readonly options: DbAccountDirectoryOptions) {
    this.refreshAfterMs = options.refreshAfterMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.misses = new NegativeCache(options.negativeTtlMs ?? 5_000, Math.max(1, options.maxNegativeEntries ?? 10_000), this.now);
  }

  async load(): Promise<void> {
    const at = this.now();
    for (const t of await this.options.db.tenants.list()) this.cacheTenant(t, at);
    // Each row carries its own copy of the domain and dialplan names: one copy of each is kept
    // (10,000 accounts of one tenant held 2 × 10,000 equal strings).
    const seen = new Map<string, string>();
    const intern = <T extends string | null>(v: T): T => {
      if (v === null) return v;
      const known = seen.get(v);
      if (known !== undefined) return known as T;
      seen.set(v, v);
      return v;
    };
    for (const row of await this.options.db.accounts.listAll()) {
      const a: SipAccount = { ...row, domain: intern(row.domain), outDialplan: intern(row.outDialplan), inDialplan: intern(row.inDialplan) };
      this.accounts.set(accountKey(a.username, a.domain), { value: a, fetchedAt: at });
    }
  }

  /**
   * Makes the next lookup of every entry read the database (admin paths call this). Entries are
   * kept as the fallback: during an outage a REGISTER or INVITE is answered from them.
   */
  invalidate(): void {
    for (const e of this.tenants.values()) e.stale = true;
    for (const e of this.accounts.values()) e.stale = true;
    this.misses.clear();
  }

  /** Makes the next lookup of one account read the database (its row changed, e.g. a `*78` committed). */
  invalidateAccount(accountId: number): void {
    for (const e of this.accounts.values()) if (e.value?.id === accountId) e.stale = true;
  }

  get accountCount(): number {
    return this.accounts.size;
  }

  /** Remembered misses (for metrics and tests). */
  get negativeCount(): number {
    return this.misses.size;
  }

  async tenantForDomain(domain: string): Promise<TenantRef | undefined> {
    return this.lookup(this.tenants, 't', domain.toLowerCase(), async () => {
      const t = await this.options.db.tenants.findByDomain(domain.toLowerCase());
      return t ? { id: t.id, domain: t.domain } : undefined;
    });
  }

  async find(user: string, domain: string): Promise<AccountAuth | undefined> {
    const account = await this.findAccount(user, domain);
    return account ? toAccountAuth(account) : undefined;
  }

  /** The whole account record (dialplan names, flags) for the call layer. */
  async findAccount(user: string, domain: string): Promise<SipAccount | undefined> {
    const account = await this.lookup(this.accounts, 'a', accountKey(user, domain), () =>
      this.options.db.accounts.findForAuth(user, domain.toLowerCase()),
    );
    return account && this.options.overlay ? this.options.overlay(account) : account;
  }

  private cacheTenant(t: Tenant, at: number): void {
    const ref = { id: t.id, domain: t.domain };
    this.tenants.set(t.domain, { value: ref, fetchedAt: at });
    for (const alias of t.aliases) this.tenants.set(alias, { value: ref, fetchedAt: at });
  }

  private async lookup<T>(map: Map<string, Cached<T>>, kind: string, key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
    const missKey = `${kind}:${key}`;
    const health = this.options.health;
    const reading = (): Promise<T | undefined> =>
      read().then(
        (value) => {
          health?.reportSuccess();
          return value;
        },
        (err: unknown) => {
          health?.reportFailure(err);
          throw err;
        },
      );
    const hit = map.get(key);
    if (hit?.stale && (!health || health.canTry())) {
      // An admin changed something: the change counts from the next request, unless the
      // database cannot say what it is — then the last known record answers.
      hit.refreshing ??= reading()
        .then((value) => this.store(map, kind, key, value))
        .catch(() => {
          hit.refreshing = undefined;
        });
      await withDeadline(hit.refreshing, this.options.maxWaitMs ?? 1000);
      const now = map.get(key);
      return now && !now.stale ? now.value : this.misses.has(missKey) ? undefined : hit.value;
    }
    if (hit) {
      if ((hit.stale || this.now() - hit.fetchedAt > this.refreshAfterMs) && !hit.refreshing && (!health || health.canTry())) {
        hit.refreshing = reading()
          .then((value) => this.store(map, kind, key, value))
          .catch(() => {
            hit.refreshing = undefined;
          });
      }
      return hit.value;
    }
    if (this.misses.has(missKey)) return undefined;
    let value: T | undefined;
    try {
      value = await reading();
    } catch (err) {
      // Never seen and the database cannot say: answered as unknown (the same answer a stranger
      // gets, so an outage does not reveal which names are cached), and not remembered as a miss.
      if (health && !health.reachable) return undefined;
      throw err;
    }
    this.store(map, kind, key, value);
    return value;
  }

  /** Found things go to the (database-sized) map; misses only to the bounded cache. */
  private store<T>(map: Map<string, Cached<T>>, kind: string, key: string, value: T | undefined): void {
    if (value === undefined) {
      map.delete(key);
      this.misses.add(`${kind}:${key}`);
    } else {
      this.misses.delete(`${kind}:${key}`);
      map.set(key, { value, fetchedAt: this.now() });
    }
  }
}

function accountKey(user: string, domain: string): string {
  return `${user}@${domain.toLowerCase()}`;
}

export function toAccountAuth(a: SipAccount): AccountAuth {
  return {
    id: a.id,
    tenantId: a.tenantId,
    username: a.username,
    ha1Md5: a.ha1Md5,
    ha1Sha256: a.ha1Sha256,
    disabled: a.disabled,
    natKeepAlive: a.natKeepalive,
    keepAliveMethod: a.keepaliveMethod,
    allowedCidrs: a.allowedCidrs,
    // Read only if the record carries it, so the safe default holds before the column exists.
    trustUdpSource: a.trustUdpSource,
  };
}
