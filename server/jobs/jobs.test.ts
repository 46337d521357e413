import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Cdr, type Database } from '../../db/index.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { jobSettingsFromEnv, runBackup, runRetention, ScheduledJobs } from './index.ts';

const DAY = 24 * 3600_000;

function cdr(tenantId: number, callId: string, startedAt: number): Cdr {
  return {
    callId, tenantId, caller: 'sip:1@x', callee: 'sip:2@x', direction: 'internal', dialplan: null, legs: [], startedAt, ringingAt: null, answeredAt: null, endedAt: null,
    durationSec: 0, hangupSide: null, hangupCause: null, status: 'ok', dialStrings: [], outcome: null, ringSec: null, history: [],
  };
}

describe.each(testDatabaseTargets())('retention on $dialect', (target) => {
  let db: Database;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const created = await target.create();
    cleanup = created.cleanup;
    db = await openDatabase(created.url, { secretKey: randomBytes(32) });
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
  });

  it('purges each tenant past its own retention, in batches, and records what it removed', async () => {
    const short = await db.tenants.add({ domain: 'short.test' });
    const long = await db.tenants.add({ domain: 'long.test' });
    expect(short.cdrRetentionDays).toBe(400);
    await db.tenants.update(short.id, { cdrRetentionDays: 30, auditRetentionDays: 10 });
    const now = Date.now();
    for (let i = 0; i < 5; i++) await db.cdrs.insert(cdr(short.id, `old-${i}`, now - 31 * DAY - i));
    await db.cdrs.insert(cdr(short.id, 'recent', now - 10 * DAY));
    await db.cdrs.insert(cdr(long.id, 'long-old', now - 300 * DAY));
    await db.audit.record({ actor: 'x', action: 'kv.write', tenantId: short.id });
    const user = await db.users.add({ email: 'u@short.test', password: 'long-password', role: 'admin', tenantId: short.id });
    await db.sessions.create({ userId: user.id, maxAgeMs: 365 * DAY });
    await db.sessions.create({ userId: user.id, maxAgeMs: DAY });
    // Two days on with a year of idle allowed, only the session past its expiry is dead.
    expect(await db.sessions.removeDead(365 * DAY, now + 2 * DAY)).toBe(1);

    // 11 days on: CDRs before now - 19 days go, the audit entry (older than 10 days by then) too.
    const r = await runRetention(db, { now: now + 11 * DAY, batchSize: 2 });
    expect(r.tenants.find((t) => t.tenantId === short.id)).toEqual({ tenantId: short.id, cdrs: 5, audit: 1 });
    expect(r.tenants.find((t) => t.tenantId === long.id)).toEqual({ tenantId: long.id, cdrs: 0, audit: 0 });
    // 11 days on, the other one has been idle far past 30 min.
    expect(r.sessions).toBe(1);
    expect((await db.cdrs.list({ tenantId: short.id })).map((c) => c.callId)).toEqual(['recent']);
    expect((await db.cdrs.list({ tenantId: long.id })).map((c) => c.callId)).toEqual(['long-old']);
    const log = await db.audit.list({ tenantId: short.id });
    expect(log.map((e) => e.action)).toEqual(['retention.purge']);
    expect(log[0]).toMatchObject({ actor: 'system', details: { cdrs: 5, audit: 1, cdrRetentionDays: 30 } });
  });

  it('refuses retention outside 1..36500 days', async () => {
    const t = await db.tenants.add({ domain: 'bad-retention.test' });
    await expect(db.tenants.update(t.id, { cdrRetentionDays: 0 })).rejects.toThrow(/cdrRetentionDays/);
  });
});

describe('SQLite backup', () => {
  let dir: string;
  let db: Database;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'patchbay-backup-'));
    db = await openDatabase(`sqlite:${path.join(dir, 'live.db')}`);
    await db.migrate();
    await db.tenants.add({ domain: 'backed-up.test' });
  });
  afterAll(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the live database into the backups folder (0600) and keeps the newest N', async () => {
    const backups = path.join(dir, 'backups');
    const first = await runBackup(db, { dir: backups, keep: 2, now: new Date('2026-01-01T03:00:00Z') });
    expect(path.basename(first.file)).toBe('patchbay-20260101T030000Z.sqlite');
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(statSync(backups).mode & 0o777).toBe(0o700);
    const copy = await openDatabase(`sqlite:${first.file}`);
    try {
      expect((await copy.tenants.list()).map((t) => t.domain)).toEqual(['backed-up.test']);
    } finally {
      await copy.close();
    }
    await runBackup(db, { dir: backups, keep: 2, now: new Date('2026-01-02T03:00:00Z') });
    const third = await runBackup(db, { dir: backups, keep: 2, now: new Date('2026-01-03T03:00:00Z') });
    expect(third.removed).toEqual(['patchbay-20260101T030000Z.sqlite']);
    expect(readdirSync(backups).sort()).toEqual(['patchbay-20260102T030000Z.sqlite', 'patchbay-20260103T030000Z.sqlite']);
  });

  it('reads its schedule from the environment and runs a job on demand', async () => {
    expect(jobSettingsFromEnv({}, dir)).toEqual({ retentionCron: '30 3 * * *', backupCron: null, backupKeep: 7, backupDir: path.join(dir, 'backups') });
    expect(jobSettingsFromEnv({ PATCHBAY_BACKUP_CRON: '0 4 * * *', PATCHBAY_RETENTION_CRON: 'off', PATCHBAY_BACKUP_KEEP: '3' }, dir)).toMatchObject({ retentionCron: null, backupCron: '0 4 * * *', backupKeep: 3 });
    expect(() => jobSettingsFromEnv({ PATCHBAY_BACKUP_CRON: 'every night' }, dir)).toThrow(/PATCHBAY_BACKUP_CRON/);
    expect(() => jobSettingsFromEnv({ PATCHBAY_BACKUP_KEEP: '0' }, dir)).toThrow(/PATCHBAY_BACKUP_KEEP/);
    const jobs = new ScheduledJobs(db, { ...jobSettingsFromEnv({ PATCHBAY_BACKUP_CRON: '0 4 * * *' }, dir), backupDir: path.join(dir, 'on-demand') });
    jobs.start();
    try {
      expect(jobs.list().map((j) => [j.name, j.schedule])).toEqual([['retention', '30 3 * * *'], ['backup', '0 4 * * *']]);
      const result = await jobs.run('backup');
      expect(String(result['file'])).toContain(path.join(dir, 'on-demand'));
      expect(jobs.list().find((j) => j.name === 'backup')).toMatchObject({ running: false, lastError: null, lastRunAt: expect.any(Number) });
    } finally {
      await jobs.stop();
    }
  });
});
