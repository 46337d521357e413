import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY, type WebRole } from '../../db/index.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import type { CallControl } from '../../server/calls/index.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';

/** Live calls of two tenants, as CallControl lists them (only list/get are needed here). */
function fakeCalls(tenants: { a: number; b: number }): CallControl {
  const call = (id: string) => ({ id, direction: 'internal', state: 'answered', caller: { uri: 'sip:1@x' }, callee: { uri: 'sip:2@x' }, createdAt: 1, history: [] });
  const byTenant = new Map([[tenants.a, [call('call-a')]], [tenants.b, [call('call-b')]]]);
  const find = (t: number, id: string) => byTenant.get(t)?.find((c) => c.id === id);
  const act = (t: number, id: string) => (find(t, id) ? { ok: true } : { ok: false, status: 404, reason: 'No such call' });
  return {
    list: (t: number) => byTenant.get(t) ?? [],
    get: find,
    hangup: act,
    hold: async (t: number, id: string) => act(t, id),
    unhold: async (t: number, id: string) => act(t, id),
    transfer: async (t: number, id: string) => act(t, id),
    setNote: act,
    place: async (t: { id: number }) => ({ ok: true, callId: `placed-${t.id}` }),
  } as unknown as CallControl;
}

/**
 * `roles` may use the route; `hiddenFrom` may use the route but this object is not theirs (404);
 * `other` is the same route on tenant B's object, 404 for everyone allowed except `seesAll`.
 */
type Row = { name: string; method: string; own: string; other?: string; body?: () => unknown; roles: readonly WebRole[]; ok?: number; hiddenFrom?: readonly WebRole[]; seesAll?: readonly WebRole[] };

const ROLES: readonly WebRole[] = ['operator', 'admin', 'receptionist', 'member'];

describe.each(testDatabaseTargets())('roles × routes × tenants on $dialect', (target) => {
  let h: ApiHarness;
  const who = new Map<WebRole, Credentials>();
  let rows: Row[] = [];
  let tenantA = 0;

  beforeAll(async () => {
    h = await startApiHarness(target, {
      calls: fakeCalls({ a: 1, b: 2 }),
      // Access only (the dry run itself is proven against the real sandbox in test/e2e/dialplan-dry-run.test.ts).
      dryRun: async () => ({ response: { status: 200, reason: 'OK', by: 'answer' }, timeline: [], usage: { cpuMs: 0, wallMs: 0, simulatedMs: 0 } }),
    });
    const A = await h.db.tenants.add({ domain: 'a.test' });
    const B = await h.db.tenants.add({ domain: 'b.test' });
    expect([A.id, B.id]).toEqual([1, 2]);
    tenantA = A.id;

    for (const role of ROLES) who.set(role, (await h.userWithSession(role, role === 'operator' ? null : A.id)).session);
    const member = (await h.db.users.list(A.id)).find((u) => u.role === 'member')!;
    const bAdmin = await h.db.users.add({ email: 'admin@b.test', password: 'b-long-password', role: 'admin', tenantId: B.id });

    const mine = await h.db.accounts.add({ username: '1001', domain: 'a.test', password: 'p-long-1001', ownerUserId: member.id, inDialplan: 'member-plan' });
    const notMine = await h.db.accounts.add({ username: '1002', domain: 'a.test', password: 'p-long-1002', inDialplan: 'admin-plan' });
    const theirs = await h.db.accounts.add({ username: '2001', domain: 'b.test', password: 'p-long-2001' });
    const plan = { language: 'js' as const, source: 'sys.Log("x")', compiledJs: 'x', sourceMap: '{}' };
    await h.db.dialplans.save({ tenantId: A.id, name: 'member-plan', ...plan });
    await h.db.dialplans.save({ tenantId: A.id, name: 'admin-plan', ...plan });
    await h.db.dialplans.save({ tenantId: B.id, name: 'b-plan', ...plan });
    const cdr = (tenantId: number, user: string) => ({
      callId: `c-${user}`, tenantId, caller: `sip:${user}@x`, callee: 'sip:9@x', direction: 'outbound' as const, dialplan: null, legs: [], startedAt: Date.now(),
      ringingAt: null, answeredAt: null, endedAt: null, durationSec: 0, hangupSide: null, hangupCause: null, status: 'ok', dialStrings: [], outcome: null, ringSec: null, history: [],
    });
    const myCdr = await h.db.cdrs.insert(cdr(A.id, '1001'));
    const otherCdr = await h.db.cdrs.insert(cdr(B.id, '2001'));
    const notMyCdr = await h.db.cdrs.insert(cdr(A.id, '1002'));
    await h.db.kv.write(A.id, 'k', 'v');
    await h.db.kv.write(B.id, 'kb', 'v');
    const provA = await h.db.providers.add({ tenantId: A.id, name: 'trunk', serverUri: 'sip:trunk.example.com' });
    const provB = await h.db.providers.add({ tenantId: B.id, name: 'trunk', serverUri: 'sip:trunk.example.com' });
    const contactA = await h.db.contacts.add(A.id, { name: 'Ada', numbers: ['+4930111'] });
    const contactB = await h.db.contacts.add(B.id, { name: 'Bea', numbers: ['+4930222'] });
    const didA = await h.db.dids.add({ tenantId: A.id, number: '+4930100' });
    const didB = await h.db.dids.add({ tenantId: B.id, number: '+4930200' });
    let n = 0;

    const admins = ['operator', 'admin'] as const;
    const withMember = ['operator', 'admin', 'member'] as const;
    rows = [
      { name: 'list accounts', method: 'GET', own: '/accounts', roles: withMember },
      { name: 'get account', method: 'GET', own: `/accounts/${mine.id}`, other: `/accounts/${theirs.id}`, roles: withMember },
      { name: 'get unowned account', method: 'GET', own: `/accounts/${notMine.id}`, roles: withMember, hiddenFrom: ['member'] },
      { name: 'patch account', method: 'PATCH', own: `/accounts/${mine.id}`, other: `/accounts/${theirs.id}`, body: () => ({ displayName: 'Desk' }), roles: withMember },
      { name: 'create account', method: 'POST', own: '/accounts', body: () => ({ username: `n${++n}`, password: 'long-enough' }), roles: admins, ok: 201 },
      { name: 'set dnd', method: 'PUT', own: `/accounts/${mine.id}/dnd`, other: `/accounts/${theirs.id}/dnd`, body: () => ({ dnd: true }), roles: ROLES },
      { name: 'set dnd of an account not mine', method: 'PUT', own: `/accounts/${notMine.id}/dnd`, body: () => ({ dnd: false }), roles: ROLES, hiddenFrom: ['member'] },
      { name: 'account bindings', method: 'GET', own: `/accounts/${mine.id}/bindings`, other: `/accounts/${theirs.id}/bindings`, roles: withMember },
      { name: 'list dialplans', method: 'GET', own: '/dialplans', roles: withMember },
      { name: 'get dialplan', method: 'GET', own: '/dialplans/member-plan', other: '/dialplans/b-plan', roles: withMember },
      { name: 'get dialplan no account of mine uses', method: 'GET', own: '/dialplans/admin-plan', roles: withMember, hiddenFrom: ['member'] },
      // (A PUT of a name tenant B uses creates tenant A's own dialplan of that name: names are per tenant.)
      { name: 'save dialplan', method: 'PUT', own: '/dialplans/member-plan', body: () => ({ language: 'js', source: 'sys.Log("v")' }), roles: withMember },
      { name: 'dry-run dialplan', method: 'POST', own: '/dialplans/member-plan/dry-run', other: '/dialplans/b-plan/dry-run', body: () => ({ call: { direction: 'in', from: { number: '0123' }, to: '1001' } }), roles: withMember },
      { name: 'dry-run dialplan no account of mine uses', method: 'POST', own: '/dialplans/admin-plan/dry-run', body: () => ({ call: { direction: 'in', from: { number: '0123' }, to: '1002' } }), roles: withMember, hiddenFrom: ['member'] },
      { name: 'dialplan versions', method: 'GET', own: '/dialplans/member-plan/versions', other: '/dialplans/b-plan/versions', roles: withMember },
      { name: 'list cdrs', method: 'GET', own: '/cdrs', roles: ROLES },
      { name: 'get cdr', method: 'GET', own: `/cdrs/${myCdr}`, other: `/cdrs/${otherCdr}`, roles: ROLES },
      { name: 'get cdr of an account not mine', method: 'GET', own: `/cdrs/${notMyCdr}`, roles: ROLES, hiddenFrom: ['member'] },
      { name: 'export cdrs', method: 'GET', own: '/cdrs/export?format=csv', roles: ROLES },
      { name: 'list calls', method: 'GET', own: '/calls', roles: ['operator', 'admin', 'receptionist'] },
      { name: 'get call', method: 'GET', own: '/calls/call-a', other: '/calls/call-b', roles: ['operator', 'admin', 'receptionist'] },
      { name: 'hold call', method: 'POST', own: '/calls/call-a/hold', other: '/calls/call-b/hold', body: () => ({ party: 'callee' }), roles: ['operator', 'admin', 'receptionist'] },
      { name: 'transfer call', method: 'POST', own: '/calls/call-a/transfer', other: '/calls/call-b/transfer', body: () => ({ party: 'caller', destination: '1003' }), roles: ['operator', 'admin', 'receptionist'] },
      { name: 'note on call', method: 'PUT', own: '/calls/call-a/note', other: '/calls/call-b/note', body: () => ({ note: 'VIP' }), roles: ['operator', 'admin', 'receptionist'] },
      { name: 'hang up call', method: 'POST', own: '/calls/call-a/hangup', other: '/calls/call-b/hangup', roles: ['operator', 'admin', 'receptionist'] },
      { name: 'list contacts', method: 'GET', own: '/contacts', roles: ROLES },
      { name: 'get contact', method: 'GET', own: `/contacts/${contactA.id}`, other: `/contacts/${contactB.id}`, roles: ROLES },
      { name: 'export contacts', method: 'GET', own: '/contacts/export', roles: ROLES },
      { name: 'create contact', method: 'POST', own: '/contacts', body: () => ({ name: `Contact ${++n}` }), roles: ['operator', 'admin', 'receptionist'], ok: 201 },
      { name: 'patch contact', method: 'PATCH', own: `/contacts/${contactA.id}`, other: `/contacts/${contactB.id}`, body: () => ({ note: 'x' }), roles: ['operator', 'admin', 'receptionist'] },
      { name: 'click-to-call', method: 'POST', own: '/calls', body: () => ({ from: '1001', to: '1002@local' }), roles: ROLES, ok: 201 },
      { name: 'click-to-call from an account not mine', method: 'POST', own: '/calls', body: () => ({ from: '1002', to: '1001@local' }), roles: ROLES, ok: 201, hiddenFrom: ['member'] },
      { name: 'click-to-call from another tenant\'s account', method: 'POST', own: '/calls', body: () => ({ from: '2001', to: '1001@local' }), roles: ROLES, hiddenFrom: ROLES },
      { name: 'list kv', method: 'GET', own: '/kv', roles: admins },
      { name: 'get kv', method: 'GET', own: '/kv/k', other: '/kv/kb', roles: admins },
      { name: 'put kv', method: 'PUT', own: '/kv/k2', body: () => ({ value: 'x' }), roles: admins },
      { name: 'list secrets', method: 'GET', own: '/secrets', roles: admins },
      { name: 'put secret', method: 'PUT', own: '/secrets/api-key', body: () => ({ value: 'xyz' }), roles: admins },
      { name: 'list providers', method: 'GET', own: '/providers', roles: admins },
      { name: 'get provider', method: 'GET', own: `/providers/${provA.id}`, other: `/providers/${provB.id}`, roles: admins },
      { name: 'patch provider', method: 'PATCH', own: `/providers/${provA.id}`, other: `/providers/${provB.id}`, body: () => ({ fromUser: 'pbx' }), roles: admins },
      { name: 'list dids', method: 'GET', own: '/dids', roles: admins },
      { name: 'add did', method: 'POST', own: '/dids', body: () => ({ number: `+4930300${++n}` }), roles: admins, ok: 201 },
      { name: 'get did', method: 'GET', own: `/dids/${didA.id}`, other: `/dids/${didB.id}`, roles: admins },
      { name: 'patch did', method: 'PATCH', own: `/dids/${didA.id}`, other: `/dids/${didB.id}`, body: () => ({ dialplan: null }), roles: admins },
      { name: 'destination policy', method: 'GET', own: '/destination-policy', roles: admins },
      { name: 'replace destination policy', method: 'PUT', own: '/destination-policy', body: () => ({ ...DEFAULT_CALL_POLICY, maxConcurrentPerAccount: 3 }), roles: admins },
      { name: 'audit', method: 'GET', own: '/audit', roles: admins },
      { name: 'list users', method: 'GET', own: '/users', roles: admins },
      { name: 'get user', method: 'GET', own: `/users/${member.id}`, other: `/users/${bAdmin.id}`, roles: admins, seesAll: ['operator'] },
      { name: 'list tenants', method: 'GET', own: '/tenants', roles: ['operator'] },
      { name: 'my tokens', method: 'GET', own: '/tokens', roles: ROLES },
      { name: 'my sessions', method: 'GET', own: '/auth/sessions', roles: ROLES },
      { name: 'patch provider', method: 'PATCH', own: `/providers/${provA.id}`, other: `/providers/${provB.id}`, body: () => ({ registerExpiry: 600 }), roles: admins },
      // Wrong current password: allowed roles reach the check (400 naming the field), nobody changes anything.
      { name: 'change my password', method: 'POST', own: '/auth/password', body: () => ({ currentPassword: 'not-it', newPassword: 'a-new-long-password' }), roles: ROLES, ok: 400 },
    ];
  });
  afterAll(async () => h?.close());

  const withTenant = (role: WebRole, path: string) => (role === 'operator' ? `${path}${path.includes('?') ? '&' : '?'}tenant=${tenantA}` : path);

  it('lets each role reach exactly its routes, and another tenant\'s objects are 404', async () => {
    const table: string[] = [];
    for (const row of rows) {
      for (const role of ROLES) {
        const auth = who.get(role)!;
        const allowed = row.roles.includes(role);
        const own = await h.call(row.method, withTenant(role, row.own), { auth, ...(row.body && { body: row.body() }) });
        const expected = !allowed ? 403 : row.hiddenFrom?.includes(role) ? 404 : (row.ok ?? 200);
        table.push(`${row.name} ${role} own ${own.status === expected ? 'ok' : `got ${own.status} want ${expected}: ${await own.text()}`}`);
        if (row.other) {
          const other = await h.call(row.method, withTenant(role, row.other), { auth, ...(row.body && { body: row.body() }) });
          const want = !allowed ? 403 : row.seesAll?.includes(role) ? 200 : 404;
          table.push(`${row.name} ${role} other ${other.status === want ? 'ok' : `got ${other.status} want ${want}`}`);
        }
      }
    }
    expect(table.filter((l) => !l.endsWith(' ok'))).toEqual([]);
    expect(table.length).toBeGreaterThan(100);
  });

  it('DND: a receptionist switches it, it is stored, audited and announced; a bad body names the field', async () => {
    const auth = who.get('receptionist')!;
    const acct = (await h.db.accounts.listPage({ tenantId: tenantA, username: '1002', limit: 1 }))[0]!;
    const bad = await h.call('PUT', `/accounts/${acct.id}/dnd`, { auth, body: { dnd: 'yes' } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('dnd');
    const res = await h.call('PUT', `/accounts/${acct.id}/dnd`, { auth, body: { dnd: true } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accountId: acct.id, user: '1002', dnd: true });
    expect((await h.db.accounts.get(acct.id))!.dnd).toBe(true);
    expect(h.events.filter((e) => e['type'] === 'account.dnd' && e['accountId'] === acct.id).at(-1)).toMatchObject({ tenantId: tenantA, user: '1002', dnd: true });
    const audit = await h.db.audit.list({ tenantId: tenantA, limit: 50 });
    expect(audit.find((a) => a.action === 'account.dnd' && a.target === 'account:1002@a.test')?.details).toEqual({ dnd: true });
    await h.call('PUT', `/accounts/${acct.id}/dnd`, { auth, body: { dnd: false } });
    expect((await h.db.accounts.get(acct.id))!.dnd).toBe(false);
  });

  it('shows a member only their own accounts, dialplans and CDRs in lists', async () => {
    const member = who.get('member')!;
    const accounts = (await (await h.call('GET', '/accounts', { auth: member })).json()) as { items: Array<{ username: string }> };
    expect(accounts.items.map((a) => a.username)).toEqual(['1001']);
    const plans = (await (await h.call('GET', '/dialplans', { auth: member })).json()) as { items: Array<{ name: string }> };
    expect(plans.items.map((p) => p.name)).toEqual(['member-plan']);
    const cdrs = (await (await h.call('GET', '/cdrs', { auth: member })).json()) as { items: Array<{ caller: string }> };
    expect(cdrs.items.map((c) => c.caller)).toEqual(['sip:1001@x']);
    const csv = await (await h.call('GET', '/cdrs/export?format=csv', { auth: member })).text();
    expect(csv).toContain('sip:1001@x');
    expect(csv).not.toContain('sip:1002@x');
    expect(csv).not.toContain('sip:2001@x');
    // A member cannot widen their reach through an admin-only setting of their own account.
    const mine = (await h.db.accounts.listPage({ tenantId: tenantA, username: '1001', limit: 1 }))[0]!;
    const widen = await h.call('PATCH', `/accounts/${mine.id}`, { auth: member, body: { outDialplan: 'admin-plan' } });
    expect(widen.status).toBe(403);
    expect(await widen.json()).toMatchObject({ field: 'outDialplan' });
    expect((await h.call('PUT', '/dialplans/new-plan', { auth: member, body: { language: 'js', source: '1' } })).status).toBe(404);
    expect((await h.call('DELETE', '/dialplans/member-plan', { auth: member })).status).toBe(403);
  });

  it('keeps tenant users in their tenant whatever ?tenant= says, and makes operators name one', async () => {
    const admin = who.get('admin')!;
    const list = (await (await h.call('GET', '/kv?tenant=2', { auth: admin })).json()) as { items: Array<{ key: string }> };
    expect(list.items.map((i) => i.key)).not.toContain('kb');
    const op = who.get('operator')!;
    const missing = await h.call('GET', '/kv', { auth: op });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ field: 'tenant' });
    expect((await h.call('GET', '/kv?tenant=999', { auth: op })).status).toBe(404);
    const b = (await (await h.call('GET', '/kv?tenant=2', { auth: op })).json()) as { items: Array<{ key: string }> };
    expect(b.items.map((i) => i.key)).toEqual(['kb']);
    // An admin saving a dialplan named like tenant B's writes only tenant A's.
    expect((await h.call('PUT', '/dialplans/b-plan', { auth: admin, body: { language: 'js', source: 'sys.Log("a")' } })).status).toBe(200);
    expect((await h.db.dialplans.listVersions(2, 'b-plan')).map((v) => v.version)).toEqual([1]);
    expect((await h.db.dialplans.getCurrent(2, 'b-plan'))!.source).toBe('sys.Log("x")');
  });

  it('refuses every cookie-authenticated mutation route without the CSRF token', async () => {
    const op = who.get('operator') as { cookie: string; csrf: string };
    const mutations = h.api.routes.filter((r) => r.spec.method !== 'get' && r.spec.roles !== 'public');
    expect(mutations.length).toBeGreaterThan(30);
    const wrong: string[] = [];
    for (const { spec } of mutations) {
      const path = withTenant('operator', spec.path.replace(/:([A-Za-z0-9_]+)/g, '1'));
      const res = await h.call(spec.method.toUpperCase(), path, { auth: { cookie: op.cookie, csrf: null }, body: {} });
      const body = (await res.json()) as { field?: string };
      if (res.status !== 403 || body.field !== 'X-CSRF-Token') wrong.push(`${spec.method} ${spec.path}: ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });
});
