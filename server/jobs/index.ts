export { ScheduledJobs, jobSettingsFromEnv, type JobName, type JobSettings, type JobStatus } from './scheduled-jobs.ts';
export { runRetention, type RetentionResult } from './retention-job.ts';
export { runBackup, type BackupResult } from './backup-job.ts';
