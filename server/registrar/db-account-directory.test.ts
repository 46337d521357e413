import { describe, expect, it } from 'vitest';
import type { Database, SipAccount } from '../../db/index.ts';
import { DbAccountDirectory } from './db-account-directory.ts';
import { fakeClock } from './test-support.ts';

function account(username: string, extra: Partial<SipAccount> = {}): SipAccount {
  return {
    id: 1, tenantId: 1, domain: 'acme.test', username, ha1Md5: 'm', ha1Sha256: 's', outDialplan: null, inDialplan: null,
    incomingOnly: false, disabled: false, natKeepalive: true, keepaliveMethod: 'crlf', allowedCidrs: [], trustUdpSource: false, callerId: null,
    maxCalls: null, createdAt: 0, updatedAt: 0, ...extra,
  };
}

/** Only the four reads the directory makes, counting the per-account ones. */
function fakeDb(accounts: SipAccount[]) {
  const reads = { account: 0, tenant: 0 };
  const db = {
    tenants: {
      list: async () => [{ id: 1, domain: 'acme.test', aliases: [] }],
      findByDomain: async () => {
        reads.tenant++;
        return undefined;
      },
    },
    accounts: {
      listAll: async () => accounts,
      findForAuth: async (user: string) => {
        reads.account++;
        return accounts.find((a) => a.username === user);
      },
    },
  } as unknown as Database;
  return { db, reads };
}

describe('DbAccountDirectory', () => {
  it('keeps at most maxNegativeEntries misses under a scan of made-up names', async () => {
    const clock = fakeClock();
    const { db } = fakeDb([account('1001')]);
    const dir = new DbAccountDirectory({ db, now: clock.now, maxNegativeEntries: 100 });
    await dir.load();
    for (let i = 0; i < 5000; i++) await dir.find(`scan${i}`, 'acme.test');
    for (let i = 0; i < 500; i++) await dir.tenantForDomain(`scan${i}.test`);
    expect(dir.negativeCount).toBe(100);
    expect(dir.accountCount).toBe(1);
    expect(await dir.find('1001', 'acme.test')).toMatchObject({ username: '1001' });
  });

  it('believes a miss for the TTL only, then asks the database again', async () => {
    const clock = fakeClock();
    const accounts: SipAccount[] = [];
    const { db, reads } = fakeDb(accounts);
    const dir = new DbAccountDirectory({ db, now: clock.now, negativeTtlMs: 5000 });
    await dir.load();
    expect(await dir.find('1002', 'acme.test')).toBeUndefined();
    expect(await dir.find('1002', 'acme.test')).toBeUndefined();
    expect(reads.account).toBe(1);
    accounts.push(account('1002'));
    clock.advance(5001);
    expect(await dir.find('1002', 'acme.test')).toMatchObject({ username: '1002' });
    expect(reads.account).toBe(2);
    expect(dir.negativeCount).toBe(0);
  });

  it('re-reads only the account invalidated by id, the others stay served from memory', async () => {
    const clock = fakeClock();
    const accounts = [account('1001', { id: 1 }), account('1002', { id: 2 })];
    const { db, reads } = fakeDb(accounts);
    const dir = new DbAccountDirectory({ db, now: clock.now });
    await dir.load();
    accounts[0] = account('1001', { id: 1, dnd: true });
    dir.invalidateAccount(1);
    await dir.findAccount('1002', 'acme.test');
    expect(reads.account).toBe(0);
    expect(await dir.findAccount('1001', 'acme.test')).toMatchObject({ dnd: true });
    expect(reads.account).toBe(1);
  });

  it('passes trustUdpSource through from the record', async () => {
    const { db } = fakeDb([account('old'), account('new', { trustUdpSource: true })]);
    const dir = new DbAccountDirectory({ db });
    await dir.load();
    expect((await dir.find('old', 'acme.test'))?.trustUdpSource).toBe(false);
    expect((await dir.find('new', 'acme.test'))?.trustUdpSource).toBe(true);
  });
});
