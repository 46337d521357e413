import { describe, expect, it } from 'vitest';
import { TenantParkSettings, type StoredParkSettings } from './tenant-park-settings.ts';

const defaults = { first: 70, last: 79, recallSeconds: 120 };

/** A reader whose answers the test sets, counting reads; `fail` makes the next reads reject. */
function store(initial: Record<number, StoredParkSettings>) {
  const rows = { ...initial };
  const s = {
    rows,
    reads: 0,
    fail: false,
    read: async (tenantId: number) => {
      s.reads++;
      if (s.fail) throw new Error('database down');
      return rows[tenantId];
    },
  };
  return s;
}

describe('TenantParkSettings', () => {
  it('a tenant uses its own fields and the defaults for the ones it left null; once read it answers from memory', async () => {
    const db = store({ 1: { slots: '80-82', recallSeconds: null }, 2: { slots: null, recallSeconds: 5 } });
    const s = new TenantParkSettings({ defaults, read: db.read, now: () => 0 });
    await s.ready(1);
    await s.ready(2);
    expect(s.get(1)).toEqual({ first: 80, last: 82, recallSeconds: 120 });
    expect(s.get(2)).toEqual({ first: 70, last: 79, recallSeconds: 5 });
    expect(s.ready(1)).toBeUndefined();
    expect(db.reads).toBe(2);
  });

  it('without a reader every tenant has the defaults and nothing waits', () => {
    const s = new TenantParkSettings({ defaults });
    expect(s.ready(7)).toBeUndefined();
    expect(s.get(7)).toEqual(defaults);
  });

  it('invalidate makes the next use wait for a re-read; a failed re-read keeps what was known', async () => {
    const db = store({ 1: { slots: '80-82', recallSeconds: 30 } });
    const s = new TenantParkSettings({ defaults, read: db.read, now: () => 0 });
    await s.ready(1);
    db.rows[1] = { slots: '90-91', recallSeconds: 0 };
    s.invalidate(1);
    const waiting = s.ready(1);
    expect(waiting).toBeInstanceOf(Promise);
    await waiting;
    expect(s.get(1)).toEqual({ first: 90, last: 91, recallSeconds: 0 });
    db.fail = true;
    s.invalidate(1);
    await s.ready(1);
    expect(s.get(1)).toEqual({ first: 90, last: 91, recallSeconds: 0 });
    // A tenant never read while the database is down gets the defaults.
    await s.ready(2);
    expect(s.get(2)).toEqual(defaults);
  });

  it('a stale entry is served at once and refreshed behind the scenes', async () => {
    let now = 0;
    const db = store({ 1: { slots: '80-82', recallSeconds: null } });
    const s = new TenantParkSettings({ defaults, read: db.read, refreshAfterMs: 1000, now: () => now });
    await s.ready(1);
    db.rows[1] = { slots: '85-86', recallSeconds: null };
    now = 1000;
    expect(s.ready(1)).toBeUndefined();
    expect(s.get(1).first).toBe(80);
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.get(1).first).toBe(85);
  });
});
