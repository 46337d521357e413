import type { Cdr, Database } from '../../../db/index.ts';
import type { CdrRecord } from './call-events.ts';
import type { CallAccount, CallAccountDirectory, CdrSink, DialplanStore, StoredDialplan } from '../call-service-deps.ts';
import { toAccountAuth, type DbAccountDirectory } from '../../registrar/index.ts';

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

  /** Forgets a cached dialplan (or all of a tenant's) so the next call reads the saved version. */
  invalidate(tenantId: number, name?: string): void {
    if (name !== undefined) {
      this.cache.delete(`${tenantId}/${name}`);
      return;
    }
    for (const key of this.cache.keys()) if (key.startsWith(`${tenantId}/`)) this.cache.delete(key);
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

export interface CdrBatchSettings {
  /** Longest a CDR waits in memory before it is written. */
  flushAfterMs?: number;
  /** A batch this big is written at once. */
  maxBatch?: number;
}

/** A CdrSink that writes behind; `close()` writes what is queued (call it before the database closes). */
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
  };
}

/**
 * CDRs written behind in batches (DESIGN: no database round trip on the call path). A CDR that
 * follows a quiet spell (no write for `flushAfterMs`) is written on the next turn of the event
 * loop, so at low rates rows appear as promptly as before (tools and tests that count rows right
 * after a call rely on that); under load the rows queue and go every `flushAfterMs` or at
 * `maxBatch` rows, in one transaction. A failed batch is retried row by row so one bad row does
 * not lose the others; failures go to `onError`.
 */
export function cdrSinkFor(
  db: Pick<Database, 'cdrs'>,
  onError: (err: unknown) => void,
  settings: CdrBatchSettings = {},
): BatchingCdrSink {
  const flushAfterMs = settings.flushAfterMs ?? 500;
  const maxBatch = settings.maxBatch ?? 100;
  let queue: Cdr[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let lastFlushAt = -Infinity;

  const writeBatch = async (batch: Cdr[]): Promise<void> => {
    try {
      await db.cdrs.insertMany(batch);
    } catch (batchErr) {
      if (batch.length === 1) return onError(batchErr);
      for (const cdr of batch) await db.cdrs.insert(cdr).catch(onError);
    }
  };

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    lastFlushAt = Date.now();
    if (queue.length > 0) {
      const batch = queue;
      queue = [];
      // Batches are written one after another, in the order the calls ended.
      writing = writing.then(() => writeBatch(batch));
    }
    return writing;
  };

  return {
    write(cdr: CdrRecord) {
      queue.push(toCdr(cdr));
      if (queue.length >= maxBatch) void flush();
      else if (!timer) {
        const wait = Math.max(0, lastFlushAt + flushAfterMs - Date.now());
        timer = setTimeout(() => void flush(), wait);
        timer.unref();
      }
    },
    flush,
    close: flush,
  };
}
