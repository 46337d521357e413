import type { Database } from '../../db/index.ts';
import type { CdrRecord } from './call-events.ts';
import type { CallAccount, CallAccountDirectory, CdrSink, DialplanStore, StoredDialplan } from './call-service-deps.ts';
import type { DbAccountDirectory } from '../registrar/index.ts';

/**
 * Compiled dialplans served from memory on the INVITE path. An entry is re-read after
 * `refreshAfterMs`, so `patchbay dialplan set` from another process takes effect within that.
 */
export class DbDialplanStore implements DialplanStore {
  private readonly cache = new Map<string, { value: StoredDialplan | undefined; fetchedAt: number }>();

  constructor(
    private readonly db: Database,
    private readonly refreshAfterMs = 2_000,
  ) {}

  async get(tenantId: number, name: string): Promise<StoredDialplan | undefined> {
    const key = `${tenantId}/${name}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.fetchedAt < this.refreshAfterMs) return hit.value;
    const current = await this.db.dialplans.getCurrent(tenantId, name);
    const value = current ? { js: current.compiledJs, sourceMap: current.sourceMap } : undefined;
    this.cache.set(key, { value, fetchedAt: Date.now() });
    return value;
  }

  invalidate(): void {
    this.cache.clear();
  }
}

/** The registrar's cached directory, seen with the call-routing fields of each account. */
export function callAccountsFrom(directory: DbAccountDirectory): CallAccountDirectory {
  return {
    tenantForDomain: (domain) => directory.tenantForDomain(domain),
    async find(user, domain): Promise<CallAccount | undefined> {
      const a = await directory.findAccount(user, domain);
      if (!a) return undefined;
      const auth = await directory.find(user, domain);
      if (!auth) return undefined;
      return { ...auth, incomingOnly: a.incomingOnly, outDialplan: a.outDialplan, inDialplan: a.inDialplan };
    },
  };
}

export function cdrSinkFor(db: Database, onError: (err: unknown) => void): CdrSink {
  return {
    write(cdr: CdrRecord) {
      return db.cdrs
        .insert({
          callId: cdr.callId,
          tenantId: Number.isFinite(Number(cdr.tenantId)) ? Number(cdr.tenantId) : null,
          caller: cdr.caller.uri,
          callee: cdr.callee.uri,
          direction: cdr.direction,
          dialplan: cdr.dialplan ?? null,
          legs: cdr.legs.map((leg) => ({ ...leg, destination: leg.target })),
          startedAt: cdr.createdAt,
          ringingAt: cdr.ringingAt ?? null,
          answeredAt: cdr.answeredAt ?? null,
          endedAt: cdr.endedAt,
          durationSec: cdr.durationSeconds,
          hangupSide: cdr.hungUpBy,
          hangupCause: cdr.reason,
          status: String(cdr.status),
        })
        .catch(onError);
    },
  };
}
