import path from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Database } from '../../db/index.ts';
import { runBackup } from './backup-job.ts';
import { runRetention } from './retention-job.ts';

export type JobName = 'retention' | 'backup';

export interface JobSettings {
  /** Cron expression of the nightly purge; null: not scheduled. Default `30 3 * * *`. */
  retentionCron: string | null;
  /** Cron expression of the SQLite backup; null: not scheduled (the default). */
  backupCron: string | null;
  /** Backups kept. Default 7. */
  backupKeep: number;
  /** Where backups go: `<data dir>/backups`. */
  backupDir: string;
}

export interface JobStatus {
  name: JobName;
  schedule: string | null;
  running: boolean;
  lastRunAt: number | null;
  lastResult: Record<string, unknown> | null;
  lastError: string | null;
}

/** Reads PATCHBAY_RETENTION_CRON, PATCHBAY_BACKUP_CRON and PATCHBAY_BACKUP_KEEP; a bad value is an error at start. */
export function jobSettingsFromEnv(env: Record<string, string | undefined>, dataDir: string): JobSettings {
  const cronOf = (name: string, fallback: string | null): string | null => {
    const v = env[name]?.trim();
    if (v === undefined || v === '') return fallback;
    if (v === 'off') return null;
    if (!cron.validate(v)) throw new Error(`${name}: not a cron expression: "${v}"`);
    return v;
  };
  const keepText = env['PATCHBAY_BACKUP_KEEP']?.trim();
  const keep = keepText === undefined || keepText === '' ? 7 : Number(keepText);
  if (!Number.isInteger(keep) || keep < 1 || keep > 1000) throw new Error(`PATCHBAY_BACKUP_KEEP: must be 1..1000, got "${keepText}"`);
  return {
    retentionCron: cronOf('PATCHBAY_RETENTION_CRON', '30 3 * * *'),
    backupCron: cronOf('PATCHBAY_BACKUP_CRON', null),
    backupKeep: keep,
    backupDir: path.join(dataDir, 'backups'),
  };
}

/** The switch's scheduled jobs (node-cron), each also runnable now through the API. */
export class ScheduledJobs {
  private readonly tasks: ScheduledTask[] = [];
  private readonly status = new Map<JobName, JobStatus>();
  private readonly runningJobs = new Map<JobName, Promise<Record<string, unknown>>>();

  constructor(
    private readonly db: Database,
    private readonly settings: JobSettings,
    private readonly logger?: Logger,
  ) {
    const backupSchedule = db.dialect === 'sqlite' ? settings.backupCron : null;
    this.status.set('retention', { name: 'retention', schedule: settings.retentionCron, running: false, lastRunAt: null, lastResult: null, lastError: null });
    this.status.set('backup', { name: 'backup', schedule: backupSchedule, running: false, lastRunAt: null, lastResult: null, lastError: null });
  }

  start(): void {
    for (const s of this.status.values()) {
      if (s.schedule === null) continue;
      const name = s.name;
      this.tasks.push(cron.schedule(s.schedule, () => void this.run(name).catch(() => {}), { name: `patchbay-${name}`, noOverlap: true }));
    }
  }

  async stop(): Promise<void> {
    for (const t of this.tasks) await t.destroy();
    this.tasks.length = 0;
    await Promise.allSettled(this.runningJobs.values());
  }

  list(): JobStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
  }

  /** Runs a job now (joining a run already in progress). */
  run(name: JobName): Promise<Record<string, unknown>> {
    const inFlight = this.runningJobs.get(name);
    if (inFlight) return inFlight;
    const s = this.status.get(name)!;
    s.running = true;
    const p = (async () => {
      try {
        const result: Record<string, unknown> =
          name === 'retention' ? { ...(await runRetention(this.db)) } : { ...(await runBackup(this.db, { dir: this.settings.backupDir, keep: this.settings.backupKeep })) };
        s.lastResult = result;
        s.lastError = null;
        this.logger?.info({ job: name, result }, `${name} job done`);
        return result;
      } catch (err) {
        s.lastError = (err as Error).message;
        this.logger?.error({ job: name, err }, `${name} job failed`);
        throw err;
      } finally {
        s.running = false;
        s.lastRunAt = Date.now();
        this.runningJobs.delete(name);
      }
    })();
    this.runningJobs.set(name, p);
    return p;
  }
}
