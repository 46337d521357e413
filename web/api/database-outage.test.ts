import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness } from './test-support.ts';

const unreachable = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', fatal: true });

/** The API while the database is down: health says so; a write (audit in its transaction) is a 503, not a 500. */
describe('API during a database outage', () => {
  let h: ApiHarness;
  const state = { down: false, pending: 0 };

  beforeAll(async () => {
    h = await startApiHarness(testDatabaseTargets()[0]!, (db: Database) => ({
      db: {
        ...db,
        ping: async () => {
          if (state.down) throw unreachable();
          await db.ping();
        },
        transaction: (fn) => (state.down ? Promise.reject(unreachable()) : db.transaction(fn)),
      } satisfies Database,
      health: { components: () => ({ journal: { status: 'ok', pending: state.pending } }) },
    }));
  });
  afterAll(async () => h?.close());

  it('GET /health: 503 degraded naming the database while it is unreachable, 200 ok after', async () => {
    state.down = true;
    state.pending = 3;
    const down = await h.call('GET', '/health');
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'degraded', degraded: ['database'], components: { database: { status: 'degraded' }, journal: { status: 'ok', pending: 3 } } });
    state.down = false;
    state.pending = 0;
    const up = await h.call('GET', '/health');
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ status: 'ok', degraded: [], components: { database: { status: 'ok' }, journal: { pending: 0 } } });
  });

  it('an API write during the outage answers 503 with Retry-After (its audit row cannot be written)', async () => {
    const operator = await h.userWithSession('operator', null);
    state.down = true;
    try {
      const res = await h.call('POST', '/tenants', { auth: operator.session, body: { domain: 'outage.test' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toEqual({ error: 'database unavailable, try again shortly' });
    } finally {
      state.down = false;
    }
    expect(await h.db.tenants.findByDomain('outage.test')).toBeUndefined();
  });
});
