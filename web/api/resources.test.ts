import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { createKysely } from '../../db/open-database.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';

type Json = Record<string, unknown>;

describe.each(testDatabaseTargets())('resources on $dialect', (target) => {
  let h: ApiHarness;
  let admin: Credentials;
  let op: Credentials;
  let tenantId: number;
  const json = async (res: Response) => (await res.json()) as Json;

  beforeAll(async () => {
    h = await startApiHarness(target);
    tenantId = (await h.db.tenants.add({ domain: 'res.test' })).id;
    admin = (await h.userWithSession('admin', tenantId, 'admin@res.test')).session;
    op = (await h.userWithSession('operator', null, 'op@ops.test')).session;
  });
  afterAll(async () => h?.close());

  const auditOf = async (action: string) => h.db.audit.list({ tenantId, action });

  it('SIP accounts: create with every setting, 400 naming the field, 409 on duplicates, write-only password, audit and cache events', async () => {
    const short = await h.call('POST', '/accounts', { auth: admin, body: { username: '3001', password: 'short' } });
    expect(short.status).toBe(400);
    expect(await json(short)).toMatchObject({ field: 'password' });
    const badCidr = await h.call('POST', '/accounts', { auth: admin, body: { username: '3001', password: 'long-enough', allowedCidrs: ['10.0.0.0/33'] } });
    expect(await json(badCidr)).toMatchObject({ field: 'allowedCidrs.0' });
    const res = await h.call('POST', '/accounts', {
      auth: admin,
      body: {
        username: '3001', password: 'long-enough', displayName: 'Front desk', outDialplan: 'out', inDialplan: 'in', incomingOnly: false,
        natKeepalive: true, keepaliveMethod: 'options', allowedCidrs: ['192.0.2.0/24'], trustUdpSource: true, callerId: '"Desk" <sip:3001@res.test>', maxCalls: 2,
      },
    });
    expect(res.status).toBe(201);
    const { account } = (await res.json()) as { account: Json };
    expect(account).toMatchObject({ username: '3001', domain: 'res.test', displayName: 'Front desk', keepaliveMethod: 'options', allowedCidrs: ['192.0.2.0/24'], trustUdpSource: true, maxCalls: 2 });
    expect(JSON.stringify(account)).not.toMatch(/ha1|long-enough/i);
    expect((await h.call('POST', '/accounts', { auth: admin, body: { username: '3001', password: 'long-enough' } })).status).toBe(409);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'config.changed', tenantId, kind: 'account', name: '3001' }));

    const id = account['id'] as number;
    const patched = await h.call('PATCH', `/accounts/${id}`, { auth: admin, body: { maxCalls: 5, password: 'another-long-one' } });
    expect(await json(patched)).toMatchObject({ account: { maxCalls: 5 } });
    const a = await h.db.accounts.get(id);
    const { digestHa1 } = await import('../../db/index.ts');
    expect(a!.ha1Md5).toBe(digestHa1('MD5', '3001', 'res.test', 'another-long-one'));
    expect((await h.call('PATCH', `/accounts/${id}`, { auth: admin, body: { nonsense: 1 } })).status).toBe(400);
    expect((await h.call('GET', '/accounts/99999', { auth: admin })).status).toBe(404);
    expect((await h.call('GET', '/accounts/abc', { auth: admin })).status).toBe(404);

    const list = await json(await h.call('GET', '/accounts?limit=1', { auth: admin }));
    expect(list).toMatchObject({ items: [expect.objectContaining({ username: '3001' })], nextCursor: null });
    const audits = await auditOf('account.update');
    expect(audits[0]).toMatchObject({ actor: 'admin@res.test', target: 'account:3001@res.test', sourceAddress: expect.stringMatching(/127\.0\.0\.1/) });
    expect(JSON.stringify(audits[0]!.details)).not.toContain('another-long-one');
    expect((await h.call('DELETE', `/accounts/${id}`, { auth: admin })).status).toBe(204);
    expect((await auditOf('account.remove')).length).toBe(1);
    expect((await h.call('GET', `/accounts/${id}`, { auth: admin })).status).toBe(404);
  });

  it('bindings: lists the stored contacts and unregisters one', async () => {
    const acc = await h.db.accounts.add({ username: '3002', domain: 'res.test', password: 'long-enough' });
    const b = (id: string) => ({
      id, accountId: acc.id, contactUri: `sip:3002@192.0.2.9:5062;ob=${id}`, sourceTransport: 'udp', sourceAddress: '198.51.100.7', sourcePort: 5062, connectionId: null,
      localListener: null, expiresAt: Date.now() + 60_000, q: null, callId: `cid-${id}`, cseq: 1, instanceId: null, regId: null, userAgent: 'baresip', path: [],
    });
    await h.db.bindings.upsertMany([b('b1'), b('b2')]);
    const list = await json(await h.call('GET', `/accounts/${acc.id}/bindings`, { auth: admin }));
    expect(list['items']).toEqual([
      { id: 'b1', contact: 'sip:3002@192.0.2.9:5062;ob=b1', sourceAddress: '198.51.100.7:5062', transport: 'udp', userAgent: 'baresip', expiresAt: expect.any(Number) },
      expect.objectContaining({ id: 'b2' }),
    ]);
    expect((await h.call('DELETE', `/accounts/${acc.id}/bindings/nope`, { auth: admin })).status).toBe(404);
    expect((await h.call('DELETE', `/accounts/${acc.id}/bindings/b1`, { auth: admin })).status).toBe(204);
    expect((await h.db.bindings.listForAccount(acc.id)).map((x) => x.id)).toEqual(['b2']);
  });

  it('dialplans: save compiles, 422 stores nothing, versions, get a version, diff, rollback, delete', async () => {
    const broken = await h.call('PUT', '/dialplans/main', { auth: admin, body: { language: 'ts', source: 'const x: number = ;\n' } });
    expect(broken.status).toBe(422);
    const err = (await broken.json()) as { error: string; errors: Array<{ line: number; column: number; message: string }> };
    expect(err.errors[0]).toMatchObject({ line: 1, column: expect.any(Number), message: expect.any(String) });
    expect(await h.db.dialplans.getCurrent(tenantId, 'main')).toBeUndefined();
    expect(await auditOf('dialplan.save')).toEqual([]);

    const v1 = await json(await h.call('PUT', '/dialplans/main', { auth: admin, body: { language: 'ts', source: 'sys.Log("one");\n', message: 'first' } }));
    expect(v1).toMatchObject({ dialplan: { name: 'main', language: 'ts', version: 1, author: 'admin@res.test', message: 'first', source: 'sys.Log("one");\n' } });
    expect((await h.db.dialplans.getCurrent(tenantId, 'main'))!.compiledJs).toContain('sys.Log');
    await h.call('PUT', '/dialplans/main', { auth: admin, body: { language: 'ts', source: 'sys.Log("two");\n' } });
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'config.changed', kind: 'dialplan', name: 'main', tenantId }));
    const list = await json(await h.call('GET', '/dialplans', { auth: admin }));
    expect(list).toEqual({ items: [{ name: 'main', language: 'ts', version: 2, updatedAt: expect.any(Number) }], nextCursor: null });
    const versions = await json(await h.call('GET', '/dialplans/main/versions', { auth: admin }));
    expect((versions['items'] as Json[]).map((v) => [v['version'], v['message']])).toEqual([[2, null], [1, 'first']]);
    expect(await json(await h.call('GET', '/dialplans/main/versions/1', { auth: admin }))).toMatchObject({ dialplan: { version: 1, source: 'sys.Log("one");\n' } });
    expect((await h.call('GET', '/dialplans/main/versions/9', { auth: admin })).status).toBe(404);
    const diff = (await json(await h.call('GET', '/dialplans/main/diff?from=1&to=2', { auth: admin })))['diff'] as string;
    expect(diff).toContain('-sys.Log("one");');
    expect(diff).toContain('+sys.Log("two");');
    expect((await h.call('GET', '/dialplans/main/diff?from=1', { auth: admin })).status).toBe(400);
    const rb = await json(await h.call('POST', '/dialplans/main/rollback', { auth: admin, body: { version: 1 } }));
    expect(rb).toMatchObject({ dialplan: { version: 3, source: 'sys.Log("one");\n', message: 'rollback to version 1' } });
    expect((await h.call('PUT', '/dialplans/main', { auth: admin, body: { language: 'py', source: 'x' } })).status).toBe(400);
    expect((await h.call('DELETE', '/dialplans/main', { auth: admin })).status).toBe(204);
    expect((await h.call('GET', '/dialplans/main', { auth: admin })).status).toBe(404);
  });

  it('CDRs: filters, cursor pages, CSV and JSON exports (defused formulas)', async () => {
    const base = { tenantId, direction: 'outbound' as const, dialplan: null, legs: [], ringingAt: null, answeredAt: null, endedAt: null, durationSec: 0, hangupSide: null, hangupCause: null, dialStrings: [], outcome: null, ringSec: null, history: [] };
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 5; i++) {
      await h.db.cdrs.insert({ ...base, callId: `cdr-${i}`, caller: i === 4 ? '=HYPERLINK("x")' : `sip:40${i}@res.test`, callee: 'sip:900@res.test', startedAt: t0 + i * 1000, status: i % 2 ? 'answered' : 'failed' });
    }
    const page1 = await json(await h.call('GET', '/cdrs?limit=2', { auth: admin }));
    expect((page1['items'] as Json[]).map((c) => c['callId'])).toEqual(['cdr-4', 'cdr-3']);
    const page2 = await json(await h.call('GET', `/cdrs?limit=2&cursor=${page1['nextCursor']}`, { auth: admin }));
    expect((page2['items'] as Json[]).map((c) => c['callId'])).toEqual(['cdr-2', 'cdr-1']);
    const filtered = await json(await h.call('GET', `/cdrs?status=answered&from=${t0 + 1}&to=2026-01-01T00:00:03.500Z`, { auth: admin }));
    expect((filtered['items'] as Json[]).map((c) => c['callId'])).toEqual(['cdr-3', 'cdr-1']);
    const byAccount = await json(await h.call('GET', '/cdrs?account=402', { auth: admin }));
    expect((byAccount['items'] as Json[]).map((c) => c['callId'])).toEqual(['cdr-2']);
    const text = await json(await h.call('GET', '/cdrs?q=cdr-0', { auth: admin }));
    expect((text['items'] as Json[]).map((c) => c['callId'])).toEqual(['cdr-0']);
    expect(await json(await h.call('GET', '/cdrs?from=yesterday', { auth: admin }))).toMatchObject({ field: 'from' });
    expect(await json(await h.call('GET', '/cdrs?cursor=zz', { auth: admin }))).toMatchObject({ field: 'cursor' });

    const csv = await h.call('GET', '/cdrs/export?format=csv', { auth: admin });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="cdrs-.*\.csv"/);
    expect(csv.headers.get('content-length')).toBeNull(); // streamed, not buffered
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,callId,startedAt/);
    expect(lines[0]).toMatch(/,dialplan,note$/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toContain(`"'=HYPERLINK(""x"")"`);
    const exported = (await (await h.call('GET', '/cdrs/export?format=json&status=failed', { auth: admin })).json()) as Json[];
    expect(exported.map((c) => c['callId'])).toEqual(['cdr-4', 'cdr-2', 'cdr-0']);
    // Past one page of the export's paging (500 rows): every row once, newest first.
    await h.db.cdrs.insertMany(Array.from({ length: 1100 }, (_, i) => ({ ...base, callId: `bulk-${i}`, caller: 'sip:bulk@res.test', callee: 'sip:900@res.test', startedAt: t0 - i, status: 'bulk' })));
    const bulk = (await (await h.call('GET', '/cdrs/export?format=json&status=bulk', { auth: admin })).json()) as Json[];
    expect(bulk).toHaveLength(1100);
    expect(new Set(bulk.map((c) => c['callId'])).size).toBe(1100);
    expect((bulk[0]!['id'] as number) > (bulk[1099]!['id'] as number)).toBe(true);
  });

  it('tenant key/value store with the sys.DB limits', async () => {
    expect((await h.call('PUT', `/kv/${'k'.repeat(65)}`, { auth: admin, body: { value: 'x' } })).status).toBe(400);
    expect(await json(await h.call('PUT', '/kv/big', { auth: admin, body: { value: 'x'.repeat(10_001) } }))).toMatchObject({ field: 'value' });
    expect(await json(await h.call('PUT', '/kv/greeting', { auth: admin, body: { value: 'hello' } }))).toEqual({ key: 'greeting', value: 'hello' });
    expect(await json(await h.call('GET', '/kv/greeting', { auth: admin }))).toEqual({ key: 'greeting', value: 'hello' });
    expect((await json(await h.call('GET', '/kv', { auth: admin })))['items']).toContainEqual({ key: 'greeting' });
    expect((await h.call('DELETE', '/kv/greeting', { auth: admin })).status).toBe(204);
    expect((await h.call('GET', '/kv/greeting', { auth: admin })).status).toBe(404);
    expect((await auditOf('kv.write')).length).toBe(1);
  });

  it('tenant secrets: write-only, sealed at rest, audited', async () => {
    const put = await h.call('PUT', '/secrets/weather-key', { auth: admin, body: { value: 'sk-live-1234567890' } });
    expect(put.status).toBe(200);
    expect(JSON.stringify(await put.json())).not.toContain('sk-live');
    const list = await h.call('GET', '/secrets', { auth: admin });
    const text = await list.text();
    expect(text).toContain('weather-key');
    expect(text).not.toContain('sk-live');
    const read = await h.call('GET', '/secrets/weather-key', { auth: admin }); // no route reads a value
    expect(read.status).toBe(405);
    expect(await read.json()).toMatchObject({ error: expect.stringMatching(/not allowed/) });
    const raw = createKysely(h.url, h.db.dialect);
    try {
      const rows = await raw.selectFrom('tenant_secrets').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain('sk-live');
    } finally {
      await raw.destroy();
    }
    expect(await h.db.secrets.reveal(tenantId, 'weather-key')).toBe('sk-live-1234567890');
    expect((await h.call('PUT', '/secrets/bad%20name', { auth: admin, body: { value: 'x' } })).status).toBe(400);
    expect((await auditOf('secret.add')).map((e) => e.target)).toEqual(['secret:weather-key']);
    expect((await h.call('DELETE', '/secrets/weather-key', { auth: admin })).status).toBe(204);
  });

  it('providers: password write-only', async () => {
    const res = await h.call('POST', '/providers', { auth: admin, body: { name: 'carrier', serverUri: 'sip:sip.carrier.example', username: 'u', password: 'trunk-pass', register: true } });
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain('trunk-pass');
    expect(JSON.parse(text)).toMatchObject({ provider: { name: 'carrier', hasPassword: true } });
    expect((await h.call('POST', '/providers', { auth: admin, body: { name: 'carrier', serverUri: 'sip:x.example' } })).status).toBe(409);
    expect(await json(await h.call('POST', '/providers', { auth: admin, body: { name: 'x', serverUri: 'http://x' } }))).toMatchObject({ field: 'serverUri' });
  });

  it('providers: edit keeps the password unless told, shows the registration state', async () => {
    const created = await json(await h.call('POST', '/providers', { auth: admin, body: { name: 'editme', serverUri: 'sip:a.carrier.example', username: 'u', password: 'trunk-pass-1' } }));
    const id = (created['provider'] as Json)['id'] as number;
    expect(created).toMatchObject({ provider: { hasPassword: true } });
    const patched = await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { serverUri: 'sip:b.carrier.example', registerExpiry: 600 } });
    expect(await json(patched)).toMatchObject({ provider: { name: 'editme', serverUri: 'sip:b.carrier.example', registerExpiry: 600, hasPassword: true, registration: null } });
    expect(await h.db.providers.revealPassword(id)).toBe('trunk-pass-1');
    expect(await json(await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { serverUri: 'http://x' } }))).toMatchObject({ field: 'serverUri' });
    expect((await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { name: 'renamed' } })).status).toBe(400);
    expect(await json(await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { password: null } }))).toMatchObject({ provider: { hasPassword: false } });
    const audit = await auditOf('provider.update');
    expect(JSON.stringify(audit.map((a) => a.details))).not.toContain('trunk-pass');
    await h.db.providerRegistrations.set({ providerId: id, state: 'failed', lastError: '403 Forbidden' });
    const list = await json(await h.call('GET', '/providers', { auth: admin }));
    expect((list['items'] as Json[]).find((p) => p['id'] === id)).toMatchObject({ registration: { state: 'failed', lastError: '403 Forbidden' } });
    expect((await h.call('PATCH', '/providers/99999', { auth: admin, body: { registerExpiry: 60 } })).status).toBe(404);
  });

  it('my password: needs the current one, ends my other sessions, keeps this one', async () => {
    const me = await h.userWithSession('member', tenantId);
    const other = await h.db.sessions.create({ userId: me.userId, maxAgeMs: 3600_000 });
    const wrong = await h.call('POST', '/auth/password', { auth: me.session, body: { currentPassword: 'nope', newPassword: 'brand-new-password' } });
    expect(wrong.status).toBe(400);
    expect(await json(wrong)).toMatchObject({ field: 'currentPassword' });
    const short = await h.call('POST', '/auth/password', { auth: me.session, body: { currentPassword: 'a-long-password', newPassword: 'short' } });
    expect(await json(short)).toMatchObject({ field: 'newPassword' });
    expect((await h.call('POST', '/auth/password', { auth: me.session, body: { currentPassword: 'a-long-password', newPassword: 'brand-new-password' } })).status).toBe(204);
    expect(await h.db.users.verifyPassword(me.email, 'brand-new-password')).toBeTruthy();
    expect(await h.db.users.verifyPassword(me.email, 'a-long-password')).toBeFalsy();
    expect((await h.call('GET', '/auth/session', { auth: me.session })).status).toBe(200);
    expect((await h.call('GET', '/auth/session', { auth: { cookie: other.token, csrf: other.csrfToken } })).status).toBe(401);
    await h.db.users.remove(me.userId); // the users test below counts this tenant's users
  });

  it('a new tenant gets the default dialplan, and its new accounts call through it unless told otherwise', async () => {
    const res = await h.call('POST', '/tenants', { auth: op, body: { domain: 'fresh.test' } });
    const fresh = ((await res.json()) as { tenant: { id: number } }).tenant;
    const plan = await h.db.dialplans.getCurrent(fresh.id, 'default');
    expect(plan).toMatchObject({ language: 'ts', version: 1, author: 'op@ops.test' });
    expect(plan!.source).toContain('${dialled}@local');
    expect(plan!.source).toContain('provider');
    const auto = await json(await h.call('POST', `/accounts?tenant=${fresh.id}`, { auth: op, body: { username: '1001', password: 'long-enough-1' } }));
    expect(auto).toMatchObject({ account: { outDialplan: 'default' } });
    const none = await json(await h.call('POST', `/accounts?tenant=${fresh.id}`, { auth: op, body: { username: '1002', password: 'long-enough-2', outDialplan: null } }));
    expect(none).toMatchObject({ account: { outDialplan: null } });
    expect((await h.call('DELETE', `/tenants/${fresh.id}`, { auth: op })).status).toBe(204);
  });

  it('tenants and aliases (operator), users (admin in their tenant), audit filters', async () => {
    const t = await h.call('POST', '/tenants', { auth: op, body: { domain: 'new.test', name: 'New' } });
    expect(t.status).toBe(201);
    const tid = ((await t.json()) as { tenant: { id: number } }).tenant.id;
    expect((await h.call('POST', '/tenants', { auth: op, body: { domain: 'new.test' } })).status).toBe(409);
    expect(await json(await h.call('POST', '/tenants', { auth: op, body: { domain: 'bad domain' } }))).toMatchObject({ field: 'domain' });
    expect(await json(await h.call('POST', `/tenants/${tid}/aliases`, { auth: op, body: { domain: 'alias.new.test' } }))).toMatchObject({ tenant: { aliases: ['alias.new.test'] } });
    expect((await h.call('POST', `/tenants/${tid}/aliases`, { auth: op, body: { domain: 'res.test' } })).status).toBe(409);
    expect((await h.call('DELETE', `/tenants/${tid}/aliases/alias.new.test`, { auth: op })).status).toBe(204);
    expect(await json(await h.call('PATCH', `/tenants/${tid}`, { auth: op, body: { require2fa: true } }))).toMatchObject({ tenant: { require2fa: true } });

    const u = await h.call('POST', '/users', { auth: admin, body: { email: 'rec@res.test', password: 'long-password', role: 'receptionist' } });
    expect(u.status).toBe(201);
    expect(await json(await h.call('POST', '/users', { auth: admin, body: { email: 'x@res.test', password: 'long-password', role: 'operator' } }))).toMatchObject({ field: 'role' });
    expect((await h.call('POST', '/users', { auth: admin, body: { email: 'rec@res.test', password: 'long-password', role: 'member' } })).status).toBe(409);
    expect(await json(await h.call('POST', '/users', { auth: admin, body: { email: 'y@res.test', password: 'short', role: 'member' } }))).toMatchObject({ field: 'password' });
    // Deleting a member hands their accounts back to the admins.
    const m = await h.db.users.add({ email: 'owner@res.test', password: 'long-password', role: 'member', tenantId });
    const owned = await h.db.accounts.add({ username: '3099', domain: 'res.test', password: 'long-enough', ownerUserId: m.id });
    expect((await h.call('DELETE', `/users/${m.id}`, { auth: admin })).status).toBe(204);
    expect((await h.db.accounts.get(owned.id))?.ownerUserId).toBeNull();
    const users = await json(await h.call('GET', '/users', { auth: admin }));
    expect((users['items'] as Json[]).map((x) => x['email'])).toEqual(['admin@res.test', 'rec@res.test']);

    const audit = await json(await h.call('GET', '/audit?action=user.*', { auth: admin }));
    expect((audit['items'] as Json[]).map((e) => e['action'])).toEqual(['user.remove', 'user.add']);
    const opAudit = await json(await h.call('GET', `/audit?tenantId=${tid}`, { auth: op }));
    expect((opAudit['items'] as Json[]).map((e) => e['action'])).toEqual(['tenant.update', 'tenant.alias.remove', 'tenant.alias.add', 'tenant.add']);
    expect((await h.call('DELETE', `/tenants/${tid}`, { auth: op })).status).toBe(204);
    expect((await h.call('GET', `/tenants/${tid}`, { auth: op })).status).toBe(404);
  });

  it('writes the audit row in the same transaction as the change', async () => {
    // A failing audit insert (actor longer than the column allows on MySQL is cut, so break the table instead) rolls the change back.
    const raw = createKysely(h.url, h.db.dialect);
    try {
      await raw.schema.alterTable('audit_log').renameTo('audit_log_away').execute();
      const res = await h.call('PUT', '/kv/atomic', { auth: admin, body: { value: 'v' } });
      expect(res.status).toBe(500);
    } finally {
      await raw.schema.alterTable('audit_log_away').renameTo('audit_log').execute();
      await raw.destroy();
    }
    expect(await h.db.kv.read(tenantId, 'atomic')).toBeUndefined();
  });
});
