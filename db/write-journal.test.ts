import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseHealth } from './database-health.ts';
import { openDatabase, type Database } from './open-database.ts';
import type { Cdr } from './repositories/cdrs-repository.ts';
import type { StoredBinding } from './repositories/bindings-repository.ts';
import { testDatabaseTargets } from './test-databases.ts';
import { WriteJournal, writeJournalSettingsFromEnv, type AccountDndWrite, type WriteJournalOptions } from './write-journal.ts';

const unreachable = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', fatal: true });

function cdr(callId: string, recordKey = `key-${callId}`): Cdr & { recordKey: string } {
  return {
    callId, tenantId: null, caller: 'sip:1001@acme.test', callee: 'sip:1002@acme.test', direction: 'internal', dialplan: null, legs: [],
    startedAt: 1_700_000_000_000, ringingAt: null, answeredAt: null, endedAt: 1_700_000_001_000, durationSec: 0, hangupSide: 'caller',
    hangupCause: 'Normal', status: '200', dialStrings: [], outcome: 'answered', ringSec: 1, history: [], recordKey,
  };
}

function binding(id: string, accountId: number): StoredBinding {
  return {
    id, accountId, contactUri: `sip:${id}@127.0.0.1:5070`, sourceTransport: 'udp', sourceAddress: '127.0.0.1', sourcePort: 5070, connectionId: null,
    localListener: null, expiresAt: Date.now() + 3_600_000, q: null, callId: `c-${id}`, cseq: 1, instanceId: null, regId: null, userAgent: null, path: [],
  };
}

/** The database behind a switch: `down` makes every write throw as a stopped MariaDB does. */
function switchable(db: Database) {
  const state = { down: false };
  const guard = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (state.down) throw unreachable();
    return fn(...a);
  };
  const target: WriteJournalOptions['target'] = {
    cdrs: { insertMany: guard((rows: readonly Cdr[]) => db.cdrs.insertMany(rows)) } as never,
    bindings: { upsertMany: guard((b: readonly StoredBinding[]) => db.bindings.upsertMany(b)), removeMany: guard((ids: readonly string[]) => db.bindings.removeMany(ids)) } as never,
    providerRegistrations: { set: guard((s: Parameters<Database['providerRegistrations']['set']>[0]) => db.providerRegistrations.set(s)) } as never,
    transaction: guard(<T>(fn: (tx: Parameters<Parameters<Database['transaction']>[0]>[0]) => Promise<T>) => db.transaction(fn)),
  };
  return { state, target };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(testDatabaseTargets())('WriteJournal on $dialect', (target) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  let dir: string;
  let accountId: number;

  beforeAll(async () => {
    const created = await target.create();
    cleanup = created.cleanup;
    db = await openDatabase(created.url);
    await db.migrate();
    await db.tenants.add({ domain: 'acme.test' });
    accountId = (await db.accounts.add({ username: '1001', domain: 'acme.test', password: 'long-enough-secret' })).id;
    dir = await mkdtemp(path.join(tmpdir(), 'patchbay-journal-'));
  });
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
    await rm(dir, { recursive: true, force: true });
  });

  const callIds = async (prefix: string) => (await db.cdrs.list({ limit: 1000 })).map((c) => c.callId).filter((id) => id.startsWith(prefix)).sort();

  it('writes survive an outage: kept on disk while the database throws, applied in order once it is back', async () => {
    const { state, target: t } = switchable(db);
    const health = new DatabaseHealth({ probe: async () => { if (state.down) throw unreachable(); }, minBackoffMs: 20, maxBackoffMs: 50 });
    const file = path.join(dir, 'outage.log');
    const journal = await WriteJournal.open({ file, target: t, health, flushIntervalMs: 10, retryMs: 20 });
    state.down = true;
    journal.append({ kind: 'cdr', cdr: cdr('out-1') });
    journal.append({ kind: 'bindings', upserts: [binding('out-b1', accountId)], deletes: [] });
    journal.append({ kind: 'cdr', cdr: cdr('out-2') });
    journal.append({ kind: 'bindings', upserts: [], deletes: ['out-b1'] });
    journal.append({ kind: 'bindings', upserts: [binding('out-b2', accountId)], deletes: [] });
    await journal.flush();
    await until(async () => !health.reachable, 'the outage to be noticed');
    expect(journal.stats().pending).toBe(5);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(5);
    expect(await callIds('out-')).toEqual([]);

    state.down = false;
    await until(async () => journal.stats().pending === 0, 'the journal to drain');
    expect(await callIds('out-')).toEqual(['out-1', 'out-2']);
    // In order: b1 was written then deleted; b2 stays.
    expect((await db.bindings.listForAccount(accountId)).map((b) => b.id)).toEqual(['out-b2']);
    await until(async () => (await stat(file)).size === 0, 'the file to be truncated');
    await journal.close();
    health.close();
  });

  it('a crash after the database took a write but before the file was compacted writes no duplicate', async () => {
    const file = path.join(dir, 'crash.log');
    const first = await WriteJournal.open({ file, target: db, flushIntervalMs: 10 });
    first.append({ kind: 'cdr', cdr: cdr('crash-1') });
    first.append({ kind: 'cdr', cdr: cdr('crash-2') });
    await first.drain();
    expect(await callIds('crash-')).toEqual(['crash-1', 'crash-2']);
    await first.close();
    // What a kill -9 between the INSERT and the truncation leaves: the lines still in the file,
    // plus a line torn in the middle of its write.
    const lines = [cdr('crash-1'), cdr('crash-2'), cdr('crash-3')].map((c, i) => JSON.stringify({ s: i + 1, w: { kind: 'cdr', cdr: c } })).join('\n');
    await writeFile(file, `${lines}\n{"s":4,"w":{"kind":"cd`);
    const second = await WriteJournal.open({ file, target: db, flushIntervalMs: 10 });
    expect(await second.replay()).toBe(3);
    expect(await callIds('crash-')).toEqual(['crash-1', 'crash-2', 'crash-3']);
    // Appends after the torn tail are whole lines again.
    second.append({ kind: 'cdr', cdr: cdr('crash-4') });
    await second.drain();
    await second.close();
    expect(await callIds('crash-')).toEqual(['crash-1', 'crash-2', 'crash-3', 'crash-4']);
    expect((await stat(file)).size).toBe(0);
  });

  it('a journal from a switch that died during an outage is replayed on the next start', async () => {
    const { state, target: t } = switchable(db);
    const file = path.join(dir, 'restart.log');
    const dying = await WriteJournal.open({ file, target: t, flushIntervalMs: 10, retryMs: 60_000 });
    state.down = true;
    dying.append({ kind: 'cdr', cdr: cdr('restart-1') });
    dying.append({ kind: 'bindings', upserts: [binding('restart-b', accountId)], deletes: [] });
    await dying.flush();
    // No close(): the process is gone. The next start replays before serving.
    const next = await WriteJournal.open({ file, target: db, flushIntervalMs: 10 });
    expect(await next.replay()).toBe(2);
    expect(await callIds('restart-')).toEqual(['restart-1']);
    expect((await db.bindings.listForAccount(accountId)).map((b) => b.id)).toContain('restart-b');
    await next.close();
  });

  it('is bounded: a full journal refuses writes with one clear log line and takes them again once drained', async () => {
    const { state, target: t } = switchable(db);
    const logged: string[] = [];
    const log = { info: () => {}, warn: (_o: object, m: string) => void logged.push(m), error: (_o: object, m: string) => void logged.push(m) };
    const file = path.join(dir, 'full.log');
    const journal = await WriteJournal.open({ file, target: t, flushIntervalMs: 10, retryMs: 20, maxBytes: 64 * 1024, logger: log });
    state.down = true;
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) (journal.append({ kind: 'cdr', cdr: cdr(`full-${i}`) }) ? accepted++ : refused++);
    expect(refused).toBeGreaterThan(0);
    expect(journal.stats()).toMatchObject({ full: true, dropped: refused });
    expect(logged.filter((m) => m.includes('FULL'))).toHaveLength(1);
    await journal.flush();
    expect((await stat(file)).size).toBeLessThanOrEqual(64 * 1024);
    state.down = false;
    await until(async () => journal.stats().pending === 0 && !journal.stats().full, 'the journal to drain and have room');
    expect(await callIds('full-')).toHaveLength(accepted);
    expect(logged.some((m) => m.includes('room again'))).toBe(true);
    expect(journal.append({ kind: 'cdr', cdr: cdr('full-after') })).toBe(true);
    await journal.close();
  });

  it('drops what the database took from the file even when it goes away half way (compaction)', async () => {
    const file = path.join(dir, 'compact.log');
    let batchesTaken = 0;
    const halfWay: WriteJournalOptions['target'] = {
      ...db,
      cdrs: {
        insertMany: async (rows: readonly Cdr[]) => {
          if (batchesTaken >= 2) throw unreachable();
          batchesTaken++;
          await db.cdrs.insertMany(rows);
        },
      } as never,
    };
    const journal = await WriteJournal.open({ file, target: halfWay, flushIntervalMs: 10, retryMs: 60_000, maxBytes: 256 * 1024 });
    for (let i = 0; i < 300; i++) journal.append({ kind: 'cdr', cdr: cdr(`compact-${String(i).padStart(3, '0')}`) });
    await journal.drain();
    expect(journal.stats().pending).toBe(100);
    const left = (await readFile(file, 'utf8')).trim().split('\n');
    expect(left).toHaveLength(100);
    expect((JSON.parse(left[0]!) as { w: { cdr: Cdr } }).w.cdr.callId).toBe('compact-200');
    // Stopped during the outage; the next start writes the rest, each once.
    await journal.close();
    const next = await WriteJournal.open({ file, target: db, flushIntervalMs: 10 });
    expect(await next.replay()).toBe(100);
    await next.close();
    const ids = await callIds('compact-');
    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
  });

  it('a *78 journaled during an outage is pending in memory, lands once after a restart, and a replay after a crash writes no second audit row', async () => {
    const tenantId = (await db.accounts.get(accountId))!.tenantId;
    const dnd = (key: string, on: boolean, at: number): AccountDndWrite => ({ key, accountId, tenantId, dnd: on, actor: 'phone', at });
    const dndRows = async () => (await db.audit.list({ tenantId, action: 'account.dnd', limit: 100 })).filter((a) => a.actor === 'phone').map((a) => ({ at: a.at, dnd: a.details?.['dnd'] })).reverse();
    const { state, target: t } = switchable(db);
    const file = path.join(dir, 'dnd.log');
    const dying = await WriteJournal.open({ file, target: t, flushIntervalMs: 10, retryMs: 60_000 });
    state.down = true;
    const on = dnd(`dnd-on-${target.dialect}`, true, 1_700_000_000_000);
    expect(dying.append({ kind: 'accountDnd', change: on })).toBe(true);
    expect(dying.pendingDnd(accountId)).toBe(true);
    await dying.drain();
    expect((await db.accounts.get(accountId))!.dnd).toBe(false);
    expect(await dndRows()).toEqual([]);

    // The switch died during the outage: the next start knows the flag before the replay, and writes it once.
    const next = await WriteJournal.open({ file, target: db, flushIntervalMs: 10 });
    expect(next.pendingDnd(accountId)).toBe(true);
    const heard: string[] = [];
    next.onApplied((w) => void heard.push(w.kind));
    expect(await next.replay()).toBe(1);
    expect(next.pendingDnd(accountId)).toBeUndefined();
    expect(heard).toEqual(['accountDnd']);
    const off = dnd(`dnd-off-${target.dialect}`, false, 1_700_000_005_000);
    next.append({ kind: 'accountDnd', change: off });
    await next.drain();
    await next.close();
    expect((await db.accounts.get(accountId))!.dnd).toBe(false);
    expect(await dndRows()).toEqual([{ at: on.at, dnd: true }, { at: off.at, dnd: false }]);

    // A kill -9 after both commits but before the truncation leaves both lines: replayed, neither
    // writes a second row, and the older one does not switch the flag back on.
    await writeFile(file, [on, off].map((change, i) => `${JSON.stringify({ s: i + 1, w: { kind: 'accountDnd', change } })}\n`).join(''));
    const third = await WriteJournal.open({ file, target: db, flushIntervalMs: 10 });
    expect(await third.replay()).toBe(2);
    await third.close();
    expect((await db.accounts.get(accountId))!.dnd).toBe(false);
    expect(await dndRows()).toEqual([{ at: on.at, dnd: true }, { at: off.at, dnd: false }]);
  });

  it('a write the database rejects for its content is skipped, not retried forever', async () => {
    const file = path.join(dir, 'poison.log');
    const logged: string[] = [];
    const log = { info: () => {}, warn: () => {}, error: (_o: object, m: string) => void logged.push(m) };
    const journal = await WriteJournal.open({ file, target: db, flushIntervalMs: 10, logger: log });
    journal.append({ kind: 'cdr', cdr: cdr('poison-1') });
    journal.append({ kind: 'bindings', upserts: [binding('poison-b', 999_999)], deletes: [] }); // no such account (FK)
    journal.append({ kind: 'cdr', cdr: cdr('poison-2') });
    await journal.drain();
    await journal.close();
    expect(await callIds('poison-')).toEqual(['poison-1', 'poison-2']);
    if (db.dialect === 'mysql' || logged.length > 0) expect(logged.some((m) => m.includes('rejected'))).toBe(true);
  });
});

describe('writeJournalSettingsFromEnv', () => {
  it('defaults into the data dir and refuses nonsense', () => {
    expect(writeJournalSettingsFromEnv({}, '/var/lib/patchbay')).toEqual({ file: '/var/lib/patchbay/write-journal.log', flushIntervalMs: 200, maxBytes: 64 * 1024 * 1024 });
    expect(writeJournalSettingsFromEnv({ PATCHBAY_JOURNAL_PATH: '/j.log', PATCHBAY_JOURNAL_FLUSH_MS: '50', PATCHBAY_JOURNAL_MAX_BYTES: '1048576' }, '/d')).toEqual({ file: '/j.log', flushIntervalMs: 50, maxBytes: 1_048_576 });
    expect(() => writeJournalSettingsFromEnv({ PATCHBAY_JOURNAL_FLUSH_MS: 'soon' }, '/d')).toThrow(/PATCHBAY_JOURNAL_FLUSH_MS/);
  });
});
