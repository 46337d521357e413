import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Cdr } from '../../../db/index.ts';
import type { CdrRecord } from './call-events.ts';
import type { DbAccountDirectory } from '../../registrar/index.ts';
import { callAccountsFrom, cdrSinkFor } from './db-adapters.ts';

function record(callId: string): CdrRecord {
  return {
    tenantId: '7',
    callId,
    direction: 'internal',
    caller: { uri: 'sip:1001@t.test' },
    callee: { uri: 'sip:1002@t.test' },
    dialStrings: [],
    legs: [],
    createdAt: 1_700_000_000_000,
    endedAt: 1_700_000_010_000,
    durationSeconds: 0,
    ringSeconds: 10,
    outcome: 'failed',
    hungUpBy: 'caller',
    status: 486,
    reason: 'Busy Here',
    history: [],
  } as CdrRecord;
}

function fakeDb(opts: { failBatches?: boolean; badCallId?: string } = {}) {
  const batches: string[][] = [];
  const singles: string[] = [];
  const cdrs = {
    async insertMany(rows: readonly Cdr[]) {
      if (opts.failBatches) throw new Error('batch failed');
      batches.push(rows.map((r) => r.callId));
    },
    async insert(row: Cdr) {
      if (row.callId === opts.badCallId) throw new Error(`bad row ${row.callId}`);
      singles.push(row.callId);
      return singles.length;
    },
  };
  return { db: { cdrs } as never, batches, singles };
}

describe('cdrSinkFor (write-behind CDRs)', () => {
  afterEach(() => vi.useRealTimers());

  it('queues CDRs and writes them in one batch on close', async () => {
    const { db, batches } = fakeDb();
    const sink = cdrSinkFor(db, () => {}, { flushAfterMs: 60_000 });
    sink.write(record('a'));
    sink.write(record('b'));
    expect(batches).toEqual([]);
    await sink.close();
    expect(batches).toEqual([['a', 'b']]);
  });

  it('writes at maxBatch rows and after flushAfterMs', async () => {
    vi.useFakeTimers();
    const { db, batches } = fakeDb();
    const sink = cdrSinkFor(db, () => {}, { flushAfterMs: 500, maxBatch: 3 });
    for (const id of ['a', 'b', 'c', 'd']) sink.write(record(id));
    await sink.flush(); // lets the full batch's write settle; 'd' goes too
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
    sink.write(record('e'));
    await vi.advanceTimersByTimeAsync(499);
    expect(batches).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([['a', 'b', 'c'], ['d'], ['e']]);
  });

  it('after a quiet spell a CDR is written on the next tick; under load rows wait for the window', async () => {
    vi.useFakeTimers();
    const { db, batches } = fakeDb();
    const sink = cdrSinkFor(db, () => {}, { flushAfterMs: 500 });
    sink.write(record('a'));
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([['a']]);
    sink.write(record('b'));
    sink.write(record('c'));
    await vi.advanceTimersByTimeAsync(498);
    expect(batches).toEqual([['a']]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([['a'], ['b', 'c']]);
    await vi.advanceTimersByTimeAsync(2_000);
    sink.write(record('d'));
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('maps call records to CDR rows', async () => {
    const rows: Cdr[] = [];
    const sink = cdrSinkFor({ cdrs: { insertMany: async (r: readonly Cdr[]) => void rows.push(...r) } } as never, () => {});
    sink.write(record('m'));
    await sink.close();
    expect(rows[0]).toMatchObject({ callId: 'm', tenantId: 7, caller: 'sip:1001@t.test', status: '486', hangupCause: 'Busy Here', durationSec: 0 });
  });

  it('a failed batch is retried row by row; only the bad row is reported', async () => {
    const { db, singles } = fakeDb({ failBatches: true, badCallId: 'bad' });
    const errors: unknown[] = [];
    const sink = cdrSinkFor(db, (err) => errors.push(err), { flushAfterMs: 60_000 });
    for (const id of ['a', 'bad', 'c']) sink.write(record(id));
    await sink.close();
    expect(singles).toEqual(['a', 'c']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['bad row bad']);
  });
});

describe('callAccountsFrom', () => {
  it('carries the caller ID and call limit of the db account', async () => {
    const stored = {
      id: 3, tenantId: 7, domain: 't.test', username: '1001', ha1Md5: 'm', ha1Sha256: 's', disabled: false,
      natKeepalive: false, keepaliveMethod: 'crlf', allowedCidrs: [], incomingOnly: false, outDialplan: 'out',
      inDialplan: null, callerId: 'Alice <1001>', maxCalls: 2, createdAt: 0, updatedAt: 0,
    };
    const directory = {
      tenantForDomain: async () => ({ id: 7, domain: 't.test' }),
      findAccount: async () => stored,
    } as unknown as DbAccountDirectory;
    const account = await callAccountsFrom(directory).find('1001', 't.test');
    expect(account).toMatchObject({ id: 3, outDialplan: 'out', callerId: 'Alice <1001>', maxCalls: 2 });
  });
});
