import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { DatabaseHealth } from './database-health.ts';
import { isDatabaseUnavailable } from './errors.ts';
import type { Database, Repositories } from './open-database.ts';
import type { StoredBinding } from './repositories/bindings-repository.ts';
import type { Cdr } from './repositories/cdrs-repository.ts';
import type { ProviderRegistrationState } from './repositories/providers-repository.ts';

/** A provider registration's state as the agent reports it (`updatedAt` keeps the time of the change). */
export interface ProviderStateWrite {
  providerId: number;
  state: ProviderRegistrationState;
  expiresAt?: number | null;
  lastError?: string | null;
  updatedAt: number;
}

/** A phone's `*78`/`*79`: the account's DND flag and its `account.dnd` audit row, one transaction. */
export interface AccountDndWrite {
  /** Unique per change; the audit row carries it, so a replay finds the change already made. */
  key: string;
  accountId: number;
  tenantId: number;
  dnd: boolean;
  /** Who switched it (the audit row's actor, e.g. `phone`). */
  actor: string;
  /** When the phone dialled it (the audit row's time, however late the database takes it). */
  at: number;
}

/**
 * Every write the switch owes the database (as opposed to API writes, which commit with their
 * audit row in one transaction). Each is idempotent, so replaying one twice is harmless: CDRs by
 * their `recordKey`, bindings and provider states as upserts by id applied in order, DND switches
 * by the `key` of their audit row.
 */
export type JournaledWrite =
  | { kind: 'cdr'; cdr: Cdr & { recordKey: string } }
  | { kind: 'bindings'; upserts: StoredBinding[]; deletes: string[] }
  | { kind: 'providerState'; state: ProviderStateWrite }
  | { kind: 'accountDnd'; change: AccountDndWrite };

export interface WriteJournalStats {
  /** Writes not yet in the database (on disk or about to be). */
  pending: number;
  /** Bytes of the journal file. */
  bytes: number;
  /** Writes refused because the journal was full (since start). */
  dropped: number;
  full: boolean;
}

export interface WriteJournalOptions {
  /** The journal file (e.g. `<data dir>/write-journal.log`); its folder is created 0700. */
  file: string;
  /** Where the writes go. */
  target: Pick<Database, 'cdrs' | 'bindings' | 'providerRegistrations' | 'transaction'>;
  /** Longest a write waits in memory before it is on disk (fsync). Default 200 ms. */
  flushIntervalMs?: number;
  /** Bound on the file; past it new writes are refused with one clear log line. Default 64 MiB. */
  maxBytes?: number;
  /** Told about failures and recoveries; its recovery starts a replay at once. */
  health?: DatabaseHealth;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** First retry after the database refused a batch; doubles up to 30 s. Default 500 ms. */
  retryMs?: number;
}

interface Line {
  seq: number;
  write: JournaledWrite;
  text: string;
  bytes: number;
}

/** CDRs applied per INSERT transaction. */
const CDR_BATCH = 100;
const MAX_RETRY_MS = 30_000;

/**
 * A small durable journal in front of the database. `append` is synchronous and cheap; every
 * `flushIntervalMs` (or on the next tick after a quiet spell) the appended lines are written and
 * fsynced in one batch, then applied to the database in order. Lines the database has taken are
 * dropped by truncating the file once it has caught up (or by rewriting the rest when it grows
 * while the database lags). After a crash or an outage, `replay()` applies what the file holds;
 * the idempotent keys make a line that was applied just before the crash harmless.
 */
export class WriteJournal {
  private fh: FileHandle | undefined;
  private seq = 0;
  /** Appended, not yet on disk. */
  private buffered: Line[] = [];
  private bufferedBytes = 0;
  /** On disk, not yet in the database, in order. */
  private durable: Line[] = [];
  private fileBytes = 0;
  private fileOps: Promise<void> = Promise.resolve();
  private applying: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryBackoffMs: number;
  private lastFlushAt = -Infinity;
  private dropped = 0;
  private droppedSinceFull = 0;
  private full = false;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxBytes: number;
  /** Applied bytes still in the file past which it is compacted. */
  private readonly compactAtBytes: number;
  private appliedBytes = 0;
  /** The newest journaled DND switch of each account the database does not have yet. */
  private readonly dndPending = new Map<number, { key: string; dnd: boolean }>();
  private readonly appliedListeners = new Set<(write: JournaledWrite) => void>();
  private readonly unsubscribe: (() => void) | undefined;

  private constructor(private readonly options: WriteJournalOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.compactAtBytes = Math.min(1024 * 1024, this.maxBytes / 4);
    this.retryBackoffMs = options.retryMs ?? 500;
    this.unsubscribe = options.health?.onRecovered(() => void this.apply());
  }

  /** Opens (or creates) the journal and reads what a previous run left in it; call replay() next. */
  static async open(options: WriteJournalOptions): Promise<WriteJournal> {
    const journal = new WriteJournal(options);
    await journal.load();
    return journal;
  }

  get file(): string {
    return this.options.file;
  }

  stats(): WriteJournalStats {
    return { pending: this.buffered.length + this.durable.length, bytes: this.fileBytes, dropped: this.dropped, full: this.full };
  }

  /**
   * The DND flag a journaled `*78`/`*79` gave the account while the database does not have it
   * yet (undefined: the database is up to date). The switch lays it over what the database says,
   * so calls honour the change at once, also during an outage.
   */
  pendingDnd(accountId: number): boolean | undefined {
    return this.dndPending.get(accountId)?.dnd;
  }

  /** `fn` hears each write once the database has taken it (or refused it for its content). */
  onApplied(fn: (write: JournaledWrite) => void): () => void {
    this.appliedListeners.add(fn);
    return () => void this.appliedListeners.delete(fn);
  }

  /**
   * Queues a write; it is on disk within one flush interval and in the database as soon as the
   * database takes it. False when the journal is full (the write is lost; logged once per fill).
   */
  append(write: JournaledWrite): boolean {
    if (this.closed) throw new Error('write journal is closed');
    const seq = this.seq + 1;
    const text = `${JSON.stringify({ s: seq, w: write })}\n`;
    const bytes = Buffer.byteLength(text);
    if (this.fileBytes + this.bufferedBytes + bytes > this.maxBytes) {
      this.dropped++;
      this.droppedSinceFull++;
      if (!this.full) {
        this.full = true;
        this.options.logger?.error(
          { file: this.options.file, maxBytes: this.maxBytes, pending: this.stats().pending },
          'write journal FULL: the database has not taken writes for too long; new CDRs, bindings, provider states and DND switches are dropped until it catches up (raise PATCHBAY_JOURNAL_MAX_BYTES or bring the database back)',
        );
      }
      return false;
    }
    this.seq = seq;
    this.noteDnd(write);
    this.buffered.push({ seq, write, text, bytes });
    this.bufferedBytes += bytes;
    if (!this.flushTimer) {
      // After a quiet spell the write goes at once (rows appear promptly at low rates); under
      // load writes gather for one interval and share an fsync.
      const wait = Math.max(0, this.lastFlushAt + this.flushIntervalMs - Date.now());
      this.flushTimer = setTimeout(() => void this.flush(), wait);
      this.flushTimer.unref();
    }
    return true;
  }

  /** Writes and fsyncs what is buffered, then starts applying it. Resolves once it is on disk. */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.lastFlushAt = Date.now();
    return this.fileOp(async () => {
      if (this.buffered.length === 0 || !this.fh) return;
      const batch = this.buffered;
      const bytes = this.bufferedBytes;
      this.buffered = [];
      this.bufferedBytes = 0;
      try {
        await this.fh.write(batch.map((l) => l.text).join(''));
        await this.fh.datasync();
      } catch (err) {
        // Disk trouble: keep the lines in memory and try again on the next flush.
        this.buffered = batch.concat(this.buffered);
        this.bufferedBytes += bytes;
        this.options.logger?.error({ err, file: this.options.file }, 'write journal: append failed; will retry');
        this.scheduleFlushRetry();
        return;
      }
      this.fileBytes += bytes;
      this.durable.push(...batch);
      void this.apply();
    });
  }

  /**
   * Applies everything the journal holds, in order (on start, before the switch serves). Throws
   * if the database refused it, so the switch does not start on a database it cannot write.
   */
  async replay(): Promise<number> {
    const count = this.durable.length + this.buffered.length;
    await this.flush();
    await this.apply();
    if (this.durable.length > 0) throw new Error(`write journal ${this.options.file}: ${this.durable.length} writes could not be replayed (database unavailable)`);
    if (count > 0) this.options.logger?.info({ file: this.options.file, writes: count }, 'write journal replayed');
    return count;
  }

  /** Everything appended so far on disk and, if the database takes it, applied. */
  async drain(): Promise<void> {
    await this.flush();
    await this.apply();
  }

  /** Flushes, applies what the database takes and closes the file; the rest waits for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    this.unsubscribe?.();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.fileOp(async () => {
      await this.fh?.close();
      this.fh = undefined;
    });
  }

  private async load(): Promise<void> {
    const file = this.options.file;
    await mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let good = 0;
    let end = text.indexOf('\n');
    let start = 0;
    while (end !== -1) {
      const raw = text.slice(start, end);
      let parsed: { s?: unknown; w?: unknown };
      try {
        parsed = JSON.parse(raw) as { s?: unknown; w?: unknown };
      } catch {
        break;
      }
      if (typeof parsed.s !== 'number' || !parsed.w || typeof parsed.w !== 'object') break;
      const lineText = `${raw}\n`;
      const bytes = Buffer.byteLength(lineText);
      const write = parsed.w as JournaledWrite;
      this.noteDnd(write);
      this.durable.push({ seq: parsed.s, write, text: lineText, bytes });
      this.seq = Math.max(this.seq, parsed.s);
      good += bytes;
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    const total = Buffer.byteLength(text);
    this.fh = await open(file, 'a', 0o600);
    if (good < total) {
      // A line torn by a crash mid-write (or garbage after it): everything before it is kept.
      this.options.logger?.warn({ file, keptBytes: good, droppedBytes: total - good }, 'write journal: dropped a torn tail');
      await this.fh.truncate(good);
      await this.fh.datasync();
    }
    this.fileBytes = good;
  }

  /** One file operation at a time: appends, truncation and rewrites never interleave. */
  private fileOp(fn: () => Promise<void>): Promise<void> {
    const run = this.fileOps.then(fn);
    this.fileOps = run.catch(() => {});
    return run;
  }

  private apply(): Promise<void> {
    this.applying ??= this.applyDurable().finally(() => {
      this.applying = undefined;
    });
    return this.applying;
  }

  private async applyDurable(): Promise<void> {
    let applied = 0;
    while (this.durable.length > 0 && !this.closed) {
      const first = this.durable[0]!;
      let group = 1;
      if (first.write.kind === 'cdr') {
        while (group < CDR_BATCH && group < this.durable.length && this.durable[group]!.write.kind === 'cdr') group++;
      }
      const lines = this.durable.slice(0, group);
      const outcome = await this.applyLines(lines);
      if (outcome === 'unavailable') {
        this.scheduleRetry();
        // What the database took before it went away leaves the file now, not after the outage.
        if (this.appliedBytes >= this.compactAtBytes) await this.compact();
        return;
      }
      this.durable.splice(0, group);
      applied += group;
      this.applied(lines);
      this.appliedBytes += lines.reduce((n, l) => n + l.bytes, 0);
      this.options.health?.reportSuccess();
      // Under steady load the database may never quite catch up: drop the applied prefix as
      // it grows, so a busy but healthy switch never fills the journal.
      if (this.appliedBytes >= this.compactAtBytes) await this.compact();
    }
    this.retryBackoffMs = this.options.retryMs ?? 500;
    if (applied > 0) await this.compact();
  }

  /** Applies lines; a line the database rejects for its content is logged and skipped. */
  private async applyLines(lines: Line[]): Promise<'done' | 'unavailable'> {
    try {
      await this.applyOne(lines);
      return 'done';
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        this.options.health?.reportFailure(err);
        return 'unavailable';
      }
      if (lines.length === 1) {
        this.options.logger?.error({ err, seq: lines[0]!.seq, kind: lines[0]!.write.kind }, 'write journal: the database rejected a write; skipped');
        return 'done';
      }
    }
    // A batch failed on its content: one by one, so one bad row does not lose the others.
    for (const line of lines) if ((await this.applyLines([line])) === 'unavailable') return 'unavailable';
    return 'done';
  }

  private async applyOne(lines: Line[]): Promise<void> {
    const t = this.options.target;
    const first = lines[0]!.write;
    if (first.kind === 'cdr') {
      await t.cdrs.insertMany(lines.map((l) => (l.write as Extract<JournaledWrite, { kind: 'cdr' }>).cdr));
    } else if (first.kind === 'bindings') {
      await t.bindings.upsertMany(first.upserts);
      await t.bindings.removeMany(first.deletes);
    } else if (first.kind === 'providerState') {
      await t.providerRegistrations.set(first.state);
    } else {
      const change = first.change;
      await t.transaction((tx) => applyAccountDnd(tx, change));
    }
  }

  private noteDnd(write: JournaledWrite): void {
    if (write.kind === 'accountDnd') this.dndPending.set(write.change.accountId, { key: write.change.key, dnd: write.change.dnd });
  }

  private applied(lines: Line[]): void {
    for (const { write } of lines) {
      // A later switch of the same account stays pending until it is in too.
      if (write.kind === 'accountDnd' && this.dndPending.get(write.change.accountId)?.key === write.change.key) this.dndPending.delete(write.change.accountId);
      for (const fn of this.appliedListeners) fn(write);
    }
  }

  /** Drops applied lines from the file: truncate once caught up, else rewrite the rest if it grew. */
  private compact(): Promise<void> {
    return this.fileOp(async () => {
      if (!this.fh) return;
      if (this.durable.length === 0) {
        if (this.fileBytes === 0) return;
        await this.fh.truncate(0);
        this.fileBytes = 0;
        this.appliedBytes = 0;
      } else {
        const rest = this.durable.reduce((n, l) => n + l.bytes, 0);
        if (this.fileBytes - rest < this.compactAtBytes) return;
        const tmp = `${this.options.file}.tmp`;
        const out = await open(tmp, 'w', 0o600);
        try {
          await out.write(this.durable.map((l) => l.text).join(''));
          await out.datasync();
        } finally {
          await out.close();
        }
        await this.fh.close();
        await rename(tmp, this.options.file);
        this.fh = await open(this.options.file, 'a', 0o600);
        this.fileBytes = rest;
        this.appliedBytes = 0;
      }
      if (this.full && this.fileBytes + this.bufferedBytes < this.maxBytes / 2) {
        this.full = false;
        this.options.logger?.warn({ file: this.options.file, dropped: this.droppedSinceFull }, 'write journal has room again; writes are journaled again');
        this.droppedSinceFull = 0;
      }
    });
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const wait = this.retryBackoffMs;
    this.retryBackoffMs = Math.min(MAX_RETRY_MS, this.retryBackoffMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.apply();
    }, wait);
    this.retryTimer.unref();
  }

  private scheduleFlushRetry(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => void this.flush(), Math.max(this.flushIntervalMs, 1000));
    this.flushTimer.unref();
  }
}

/** The flag and its audit row; a change whose row is already there was applied before a crash. */
async function applyAccountDnd(tx: Repositories, change: AccountDndWrite): Promise<void> {
  if (await tx.audit.hasRecordKey(change.key)) return;
  const account = await tx.accounts.get(change.accountId);
  // Removed (or its id reused elsewhere) since the phone dialled: nothing left to switch.
  if (!account || account.tenantId !== change.tenantId) return;
  await tx.accounts.update(account.username, account.domain, { dnd: change.dnd });
  await tx.audit.record({
    actor: change.actor, action: 'account.dnd', target: `account:${account.username}@${account.domain}`, details: { dnd: change.dnd, via: 'feature-code' },
    sourceAddress: null, tenantId: account.tenantId, at: change.at, recordKey: change.key,
  });
}

/**
 * The journal's place and limits from the environment: PATCHBAY_JOURNAL_PATH (default
 * `<data dir>/write-journal.log`), PATCHBAY_JOURNAL_FLUSH_MS (default 200), PATCHBAY_JOURNAL_MAX_BYTES
 * (default 64 MiB). A value that is not a positive number is an error, not a silent default.
 */
export function writeJournalSettingsFromEnv(env: Record<string, string | undefined>, dataDir: string): Pick<WriteJournalOptions, 'file' | 'flushIntervalMs' | 'maxBytes'> {
  const num = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min} (got ${JSON.stringify(raw)})`);
    return n;
  };
  return {
    file: env['PATCHBAY_JOURNAL_PATH']?.trim() || path.join(dataDir, 'write-journal.log'),
    flushIntervalMs: num('PATCHBAY_JOURNAL_FLUSH_MS', 200, 1),
    maxBytes: num('PATCHBAY_JOURNAL_MAX_BYTES', 64 * 1024 * 1024, 64 * 1024),
  };
}
