import { describe, expect, it } from 'vitest';
import { DatabaseHealth, type Database, type SipAccount } from '../../../db/index.ts';
import { DbAccountDirectory } from '../../registrar/index.ts';
import { DbProviderSource } from '../../providers/index.ts';
import { DbDialplanStore } from './db-adapters.ts';

const unreachable = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', fatal: true });

function account(username: string, extra: Partial<SipAccount> = {}): SipAccount {
  return {
    id: 1, tenantId: 1, domain: 'acme.test', username, ha1Md5: 'm', ha1Sha256: 's', outDialplan: 'out', inDialplan: null,
    incomingOnly: false, disabled: false, natKeepalive: true, keepaliveMethod: 'crlf', allowedCidrs: [], trustUdpSource: false, callerId: null,
    maxCalls: null, createdAt: 0, updatedAt: 0, ...extra,
  };
}

/** A database whose every read throws once `down` is set, as a stopped MariaDB does. */
function switchableDb() {
  const state = { down: false, dialplanJs: 'v1', accounts: [account('1001')] };
  const guard = async <T>(value: () => T): Promise<T> => {
    if (state.down) throw unreachable();
    return value();
  };
  const db = {
    tenants: { list: () => guard(() => [{ id: 1, domain: 'acme.test', aliases: [] }]), findByDomain: () => guard(() => undefined) },
    accounts: {
      listAll: () => guard(() => state.accounts),
      findForAuth: (user: string) => guard(() => state.accounts.find((a) => a.username === user)),
    },
    dialplans: { getCurrent: () => guard(() => ({ compiledJs: state.dialplanJs, sourceMap: null })) },
    providers: {
      findByName: (_t: number, name: string) => guard(() => (name === 'trunk' ? { id: 5, tenantId: 1, name, serverUri: 'sip:trunk.example', hasPassword: false, customHeaders: {}, settings: {} } : undefined)),
    },
    callPolicies: { get: () => guard(() => ({ deniedPrefixes: ['900'] })) },
  } as unknown as Database;
  return { db, state };
}

describe('call and REGISTER path reads during a database outage', () => {
  it('a dialplan whose refresh throws runs in its last known version; the saved one after the outage', async () => {
    const { db, state } = switchableDb();
    const health = new DatabaseHealth({ probe: async () => {} });
    const store = new DbDialplanStore(db, 0, health);
    expect((await store.get(1, 'out'))?.js).toBe('v1');
    state.down = true;
    for (let i = 0; i < 3; i++) expect((await store.get(1, 'out'))?.js).toBe('v1');
    expect(health.reachable).toBe(false);
    state.down = false;
    state.dialplanJs = 'v2';
    health.reportSuccess();
    expect((await store.get(1, 'out'))?.js).toBe('v2');
    health.close();
  });

  it('accounts invalidated by an admin write are still found while the database cannot be read', async () => {
    const { db, state } = switchableDb();
    const health = new DatabaseHealth({ probe: async () => {} });
    const dir = new DbAccountDirectory({ db, health, refreshAfterMs: 0 });
    await dir.load();
    state.down = true;
    dir.invalidate();
    expect((await dir.findAccount('1001', 'acme.test'))?.outDialplan).toBe('out');
    expect(await dir.find('1001', 'acme.test')).toMatchObject({ username: '1001' });
    expect(health.reachable).toBe(false);
    // A name never seen cannot be looked up: unknown (as for a stranger), and not remembered so.
    expect(await dir.find('1999', 'acme.test')).toBeUndefined();
    expect(dir.negativeCount).toBe(0);
    // Once back, an invalidated entry reflects the database again at the next lookup.
    state.down = false;
    state.accounts = [account('1001', { disabled: true })];
    health.reportSuccess();
    dir.invalidate();
    expect((await dir.findAccount('1001', 'acme.test'))?.disabled).toBe(true);
    health.close();
  });

  it('providers and destination policies are served from memory when their re-read throws', async () => {
    const { db, state } = switchableDb();
    let t = 0;
    const health = new DatabaseHealth({ probe: async () => {}, now: () => t });
    const source = new DbProviderSource(db, () => t, health);
    expect((await source.find(1, 'trunk'))?.serverUri).toBe('sip:trunk.example');
    expect((await source.policy(1)).deniedPrefixes).toEqual(['900']);
    state.down = true;
    t += 60_000;
    source.invalidate();
    expect((await source.find(1, 'trunk'))?.serverUri).toBe('sip:trunk.example');
    expect((await source.policy(1)).deniedPrefixes).toEqual(['900']);
    health.close();
  });
});
