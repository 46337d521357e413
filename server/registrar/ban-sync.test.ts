import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { StoredBan } from '../../db/index.ts';
import { AuthFailureGuard } from '../sip/index.ts';
import { BanSync, type BanStore } from './ban-sync.ts';

class MemoryBanStore implements BanStore {
  rows = new Map<string, StoredBan>();
  async save(ban: StoredBan) {
    this.rows.set(ban.address, { ...ban });
  }
  async list(now?: number) {
    return [...this.rows.values()].filter((r) => now === undefined || r.until > now);
  }
  async removeEnded(before: number) {
    let n = 0;
    for (const [k, r] of this.rows) if (r.until <= before) n += Number(this.rows.delete(k));
    return n;
  }
}

const logger = pino({ level: 'silent' });
const flush = () => new Promise((resolve) => setImmediate(resolve));

function guessFrom(guard: AuthFailureGuard, source: string, times: number) {
  for (let i = 0; i < times; i++) guard.recordFailure({ source, user: '1001', realm: 'x.test' });
}

describe('BanSync', () => {
  it('stores a new ban, and lifts it once the operator removed its row', async () => {
    let now = 1_000_000;
    const store = new MemoryBanStore();
    const guard = new AuthFailureGuard({ sourceLimit: 3, now: () => now });
    const sync = new BanSync({ guard, store, logger, now: () => now });
    await sync.start();
    guessFrom(guard, '192.0.2.1', 3);
    await flush();
    expect([...store.rows.values()]).toEqual([{ address: '192.0.2.1', reason: 'source-limit', until: now + 600_000, count: 1, bannedAt: now }]);
    now += 10;
    await sync.poll();
    expect(guard.isBanned('192.0.2.1')).toBe(true); // still in the table: nothing changes
    store.rows.delete('192.0.2.1');
    now += 10;
    await sync.poll();
    expect(guard.isBanned('192.0.2.1')).toBe(false);
    await sync.stop();
  });

  it('restores stored bans at start and adopts bans another node wrote', async () => {
    const now = 5_000_000;
    const store = new MemoryBanStore();
    await store.save({ address: '192.0.2.9', reason: 'account-limit', until: now + 60_000, count: 3, bannedAt: now });
    await store.save({ address: '192.0.2.10', reason: 'source-limit', until: now - 1, count: 1, bannedAt: now - 600_000 });
    const guard = new AuthFailureGuard({ now: () => now });
    const sync = new BanSync({ guard, store, logger, now: () => now });
    expect(await sync.start()).toBe(1);
    expect(guard.bans()).toEqual([{ source: '192.0.2.9', until: now + 60_000, level: 3, reason: 'account-limit' }]);
    await store.save({ address: '2001:db8:1:2::/64', reason: 'source-limit', until: now + 60_000, count: 1, bannedAt: now });
    await sync.poll();
    expect(guard.isBanned('2001:db8:1:2::99')).toBe(true);
    expect(store.rows.has('192.0.2.10')).toBe(false); // ended rows are pruned
    await sync.stop();
  });

  it('does not lift a ban whose row was written after the read began', async () => {
    let now = 9_000_000;
    const store = new MemoryBanStore();
    const guard = new AuthFailureGuard({ sourceLimit: 1, now: () => now });
    const sync = new BanSync({ guard, store, logger, now: () => now });
    await sync.start();
    const slowList = store.list.bind(store);
    let release: () => void = () => {};
    store.list = async (n) => {
      const rows = await slowList(n);
      await new Promise<void>((resolve) => (release = resolve));
      return rows;
    };
    const polling = sync.poll(); // reads an empty table
    await flush();
    guessFrom(guard, '192.0.2.5', 1); // banned and stored while the read is in flight
    await flush();
    now += 5;
    release();
    await polling;
    expect(guard.isBanned('192.0.2.5')).toBe(true);
    await sync.stop();
  });
});
