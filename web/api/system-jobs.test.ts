import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { jobSettingsFromEnv, ScheduledJobs } from '../../server/jobs/index.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';

describe('scheduled jobs and retention through the API', () => {
  let h: ApiHarness;
  let dir: string;
  let op: Credentials;
  let admin: Credentials;
  let tenantId: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'patchbay-jobs-api-'));
    h = await startApiHarness(testDatabaseTargets()[0]!, (db) => ({ jobs: new ScheduledJobs(db, jobSettingsFromEnv({ PATCHBAY_BACKUP_CRON: '0 4 * * *' }, dir)) }));
    tenantId = (await h.db.tenants.add({ domain: 'jobs.test' })).id;
    op = (await h.userWithSession('operator', null)).session;
    admin = (await h.userWithSession('admin', tenantId)).session;
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows and sets a tenant\'s retention, lists the jobs and runs them now (operators only)', async () => {
    expect(await (await h.call('GET', `/tenants/${tenantId}`, { auth: op })).json()).toMatchObject({ tenant: { cdrRetentionDays: 400, auditRetentionDays: 400 } });
    const set = await h.call('PATCH', `/tenants/${tenantId}`, { auth: op, body: { cdrRetentionDays: 90, auditRetentionDays: 365 } });
    expect(await set.json()).toMatchObject({ tenant: { cdrRetentionDays: 90, auditRetentionDays: 365 } });
    expect(await (await h.call('PATCH', `/tenants/${tenantId}`, { auth: op, body: { cdrRetentionDays: 0 } })).json()).toMatchObject({ field: 'cdrRetentionDays' });

    const list = (await (await h.call('GET', '/system/jobs', { auth: op })).json()) as { items: Array<{ name: string; schedule: string | null }> };
    expect(list.items.map((j) => [j.name, j.schedule])).toEqual([['retention', '30 3 * * *'], ['backup', '0 4 * * *']]);
    expect((await h.call('GET', '/system/jobs', { auth: admin })).status).toBe(403);
    const backup = await h.call('POST', '/system/jobs/backup/run', { auth: op });
    expect(backup.status).toBe(200);
    expect(((await backup.json()) as { result: { file: string } }).result.file).toContain(path.join(dir, 'backups'));
    const retention = await h.call('POST', '/system/jobs/retention/run', { auth: op });
    expect(await retention.json()).toMatchObject({ result: { cdrs: 0, audit: 0 } });
    expect((await h.call('POST', '/system/jobs/nope/run', { auth: op })).status).toBe(404);
    expect((await h.db.audit.list({ action: 'job.*' })).map((e) => e.action)).toEqual(['job.retention.run', 'job.backup.run']);
  });
});
