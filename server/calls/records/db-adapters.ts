import { randomUUID } from 'node:crypto';
import { ReadThroughCache, type Cdr, type Database, type DatabaseHealth, type WriteJournal } from '../../../db/index.ts';
import type { CdrRecord } from './call-events.ts';
import type { CallAccount, CallAccountDirectory, CdrSink, DialplanStore, StoredDialplan } from '../call-service-deps.ts';
import { toAccountAuth, type DbAccountDirectory } from '../../registrar/index.ts';

/**
 * Compiled dialplans served from memory on the INVITE path. An entry is re-read after
 * `refreshAfterMs`, so `patchbay dialplan set` from another process takes effect within that;
 * when that read fails (database down) the last known version runs, never a failed call.
 */
export class DbDialplanStore implements DialplanStore {
  private readonly cache: ReadThroughCache<StoredDialplan | undefined>;

  constructor(
    private readonly db: Database,
    refreshAfterMs = 2_000,
    health?: DatabaseHealth,
  ) {
    this.cache = new ReadThroughCache({ freshMs: refreshAfterMs, health });
  }

  async get(tenantId: number, name: string): Promise<StoredDialplan | undefined> {
    return this.cache.get(`${tenantId}/${name}`, async () => {
      const current = await this.db.dialplans.getCurrent(tenantId, name);
      return current ? { js: current.compiledJs, sourceMap: current.sourceMap } : undefined;
    });
  }

  /** Marks a cached dialplan (or all of a tenant's) stale so the next call reads the saved version. */
  invalidate(tenantId: number, name?: string): void {
    const exact = `${tenantId}/${name}`;
    this.cache.invalidate(name !== undefined ? (key) => key === exact : (key) => key.startsWith(`${tenantId}/`));
  }
}

/** The registrar's cached directory, seen with the call-routing fields of each account. */
export function callAccountsFrom(directory: DbAccountDirectory): CallAccountDirectory {
  return {
    tenantForDomain: (domain) => directory.tenantForDomain(domain),
    async find(user, domain): Promise<CallAccount | undefined> {
      const a = await directory.findAccount(user, domain);
      if (!a) return undefined;
      return {
        ...toAccountAuth(a), incomingOnly: a.incomingOnly, outDialplan: a.outDialplan, inDialplan: a.inDialplan,
        callerId: a.callerId, maxCalls: a.maxCalls, dnd: a.dnd === true,
      };
    },
  };
}

/** A CdrSink that writes behind; `close()` puts what is queued on disk (call it before the journal closes). */
export interface BatchingCdrSink extends CdrSink {
  flush(): Promise<void>;
  close(): Promise<void>;
}

function toCdr(cdr: CdrRecord): Cdr {
  return {
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
    dialStrings: cdr.dialStrings,
    outcome: cdr.outcome,
    ringSec: cdr.ringSeconds,
    history: cdr.history.map((item) => ({ ...item })),
    note: cdr.note ?? null,
  };
}

/**
 * CDRs go through the write journal (DESIGN: no database round trip on the call path): on disk
 * within one journal flush, in the database as soon as it takes them, each exactly once (a
 * random record key per CDR, so a replay after a crash or an outage writes no duplicate).
 * The journal batches the fsyncs and the INSERTs; after a quiet spell a CDR goes at once, so at
 * low rates rows appear as promptly as before.
 */
export function cdrSinkFor(journal: Pick<WriteJournal, 'append' | 'flush'>, onDropped: (cdr: Cdr) => void = () => {}): BatchingCdrSink {
  return {
    write(record: CdrRecord) {
      const cdr = { ...toCdr(record), recordKey: randomUUID() };
      if (!journal.append({ kind: 'cdr', cdr })) onDropped(cdr);
    },
    flush: () => journal.flush(),
    close: () => journal.flush(),
  };
}
