import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { authenticateRequest } from './index.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

/** What the event hub uses on a WebSocket upgrade: cookie, bearer header or `?token=`. */
describe('authenticateRequest', () => {
  let h: ApiHarness;
  let cookie: string;
  let token: string;
  let userId: number;

  beforeAll(async () => {
    h = await startApiHarness(testDatabaseTargets()[0]!);
    const t = await h.db.tenants.add({ domain: 'ws.test' });
    const u = await h.userWithSession('receptionist', t.id);
    userId = u.userId;
    cookie = (u.session as { cookie: string }).cookie;
    token = (await h.db.tokens.create({ userId, name: 'ws' })).token;
  });
  afterAll(async () => h?.close());

  const upgrade = (url: string, headers: Record<string, string>) => ({ method: 'GET', url, headers }) as unknown as IncomingMessage;

  it('knows the user behind a session cookie, a bearer header or a ?token= on an upgrade', async () => {
    expect((await authenticateRequest(h.db, { cookie: `other=1; pb_session=${cookie}` }))?.id).toBe(userId);
    expect((await authenticateRequest(h.db, { authorization: `Bearer ${token}` }))?.id).toBe(userId);
    expect((await authenticateRequest(h.db, upgrade(`/api/v1/events?since=4&token=${encodeURIComponent(token)}`, {})))?.id).toBe(userId);
    expect((await authenticateRequest(h.db, upgrade('/api/v1/events', { cookie: `pb_session=${cookie}` })))?.role).toBe('receptionist');
  });

  it('answers null for nothing, wrong, revoked or expired credentials', async () => {
    expect(await authenticateRequest(h.db, {})).toBeNull();
    expect(await authenticateRequest(h.db, { cookie: 'pb_session=forged' })).toBeNull();
    expect(await authenticateRequest(h.db, upgrade('/api/v1/events?token=pb_forged', {}))).toBeNull();
    // a plain header object has no URL: ?token= is only read from a request
    expect(await authenticateRequest(h.db, { authorization: 'Basic abc' })).toBeNull();
    const s = await h.db.sessions.create({ userId, maxAgeMs: 60_000 });
    await h.db.sessions.revokeOfUser(userId, s.id);
    expect(await authenticateRequest(h.db, { cookie: `pb_session=${s.token}` })).toBeNull();
    const old = await h.db.tokens.create({ userId, name: 'old', expiresAt: Date.now() - 1 });
    expect(await authenticateRequest(h.db, { authorization: `Bearer ${old.token}` })).toBeNull();
  });
});
