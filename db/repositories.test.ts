import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptSecret, digestHa1, DuplicateError, NotFoundError, openDatabase, ValidationError, type Database } from './index.ts';
import { testDatabaseTargets } from './test-databases.ts';

const secretKey = randomBytes(32);

describe.each(testDatabaseTargets())('repositories on $dialect', (target) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  let url: string;

  beforeAll(async () => {
    const created = await target.create();
    cleanup = created.cleanup;
    url = created.url;
    db = await openDatabase(created.url, { secretKey });
    expect(await db.migrate()).toEqual([
      '0001_initial', '0002_account_keepalive_method', '0003_cdr_history', '0004_account_trust_udp_source', '0005_seal_ha1', '0012_tenant_park', '0020_sip_bans',
      '0030_api_sessions', '0031_two_factor', '0032_tenant_secrets', '0033_dialplan_message_audit_index', '0034_account_owner_display_name', '0035_tenant_retention', '0050_provider_settings', '0051_tenant_call_policies', '0052_dids', '0060_cdr_record_key', '0061_audit_record_key', '0062_tenant_kv_usage', '0070_contacts', '0071_cdr_note', '0075_account_dnd',
    ]);
    expect(await db.migrate()).toEqual([]);
  });
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
  });

  it('reports its dialect', () => {
    expect(db.dialect).toBe(target.dialect);
  });

  it('adds tenants, finds them by domain or alias, rejects duplicates', async () => {
    const t = await db.tenants.add({ domain: 'Example.COM', name: 'Example' });
    expect(t).toMatchObject({ domain: 'example.com', name: 'Example', aliases: [] });
    await db.tenants.addAlias(t.id, 'sip.example.com');
    expect((await db.tenants.findByDomain('SIP.example.com'))?.id).toBe(t.id);
    expect((await db.tenants.findByDomain('example.com'))?.aliases).toEqual(['sip.example.com']);
    await expect(db.tenants.add({ domain: 'example.com' })).rejects.toBeInstanceOf(DuplicateError);
    await expect(db.tenants.add({ domain: 'sip.example.com' })).rejects.toBeInstanceOf(DuplicateError);
    await expect(db.tenants.add({ domain: 'bad domain' })).rejects.toBeInstanceOf(ValidationError);
    expect((await db.tenants.list()).filter((x) => x.domain === 'example.com')).toHaveLength(1);
    expect(await db.tenants.findByDomain('nope.example')).toBeUndefined();
  });

  it('stores SIP accounts as HA1s only, with realm = tenant domain', async () => {
    await db.tenants.add({ domain: 'acme.test' });
    const acme = await db.tenants.requireByDomain('acme.test');
    await db.tenants.addAlias(acme.id, 'alias.acme.test');
    const a = await db.accounts.add({ username: '1001', domain: 'alias.acme.test', password: 's3cret!', outDialplan: 'default', incomingOnly: false });
    expect(a.domain).toBe('acme.test');
    expect(a.ha1Md5).toBe(createHash('md5').update('1001:acme.test:s3cret!').digest('hex'));
    expect(a.ha1Sha256).toBe(digestHa1('SHA-256', '1001', 'acme.test', 's3cret!'));
    expect(a.ha1Sha256).toHaveLength(64);
    const found = await db.accounts.findForAuth('1001', 'acme.test');
    expect(found).toMatchObject({ username: '1001', outDialplan: 'default', inDialplan: null, natKeepalive: true, keepaliveMethod: 'crlf', disabled: false, allowedCidrs: [] });
    expect(JSON.stringify(found)).not.toContain('s3cret!');

    await expect(db.accounts.add({ username: '1001', domain: 'acme.test', password: 'other' })).rejects.toBeInstanceOf(DuplicateError);
    expect((await db.accounts.findForAuth('1001', 'acme.test'))?.ha1Md5).toBe(a.ha1Md5);
    await expect(db.accounts.add({ username: '1002', domain: 'unknown.test', password: 'x' })).rejects.toBeInstanceOf(NotFoundError);

    await db.accounts.setPassword('1001', 'acme.test', 'n3w');
    expect((await db.accounts.findForAuth('1001', 'acme.test'))?.ha1Md5).toBe(digestHa1('MD5', '1001', 'acme.test', 'n3w'));
    await expect(db.accounts.setPassword('9999', 'acme.test', 'x')).rejects.toBeInstanceOf(NotFoundError);

    const updated = await db.accounts.update('1001', 'acme.test', { allowedCidrs: ['10.0.0.0/8'], maxCalls: 2, disabled: true });
    expect(updated).toMatchObject({ allowedCidrs: ['10.0.0.0/8'], maxCalls: 2, disabled: true });

    await db.accounts.add({ username: '1002', domain: 'acme.test', password: 'p', incomingOnly: true });
    expect((await db.accounts.listByDomain('acme.test')).map((x) => [x.username, x.incomingOnly])).toEqual([
      ['1001', false],
      ['1002', true],
    ]);
    expect((await db.accounts.listAll()).some((x) => x.username === '1002' && x.domain === 'acme.test')).toBe(true);
    expect(await db.accounts.remove('1002', 'acme.test')).toBe(true);
    expect(await db.accounts.remove('1002', 'acme.test')).toBe(false);
  });

  it('stores the keep-alive method and validates account settings by field', async () => {
    await db.tenants.add({ domain: 'ka.test' });
    const a = await db.accounts.add({ username: '2001', domain: 'ka.test', password: 'p', keepaliveMethod: 'options', natKeepalive: true });
    expect(a.keepaliveMethod).toBe('options');
    expect((await db.accounts.findForAuth('2001', 'ka.test'))?.keepaliveMethod).toBe('options');
    expect((await db.accounts.update('2001', 'ka.test', { keepaliveMethod: 'crlf' })).keepaliveMethod).toBe('crlf');
    expect((await db.accounts.listAll()).find((x) => x.username === '2001')?.keepaliveMethod).toBe('crlf');

    const bad: [Record<string, unknown>, string][] = [
      [{ keepaliveMethod: 'ping' }, 'keepaliveMethod'],
      [{ allowedCidrs: ['10.0.0.0/33'] }, 'allowedCidrs'],
      [{ allowedCidrs: ['2001:db8::/129'] }, 'allowedCidrs'],
      [{ allowedCidrs: ['10.0.0/8'] }, 'allowedCidrs'],
      [{ callerId: 'Alice\r\nVia: x' }, 'callerId'],
      [{ maxCalls: -1 }, 'maxCalls'],
    ];
    for (const [patch, field] of bad) {
      const err = await db.accounts.update('2001', 'ka.test', patch).catch((e: unknown) => e);
      expect(err, JSON.stringify(patch)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
    }
    const ok = await db.accounts.update('2001', 'ka.test', { allowedCidrs: ['192.0.2.0/24', '2001:db8::/32', '198.51.100.7'] });
    expect(ok.allowedCidrs).toEqual(['192.0.2.0/24', '2001:db8::/32', '198.51.100.7']);
    expect(ok.keepaliveMethod).toBe('crlf');
  });

  it('versions dialplans; current is the newest', async () => {
    const t = await db.tenants.add({ domain: 'dp.test' });
    const v1 = await db.dialplans.save({ tenantId: t.id, name: 'default', language: 'ts', source: 'a', compiledJs: 'a', sourceMap: '{}', author: 'cli' });
    const big = 'x'.repeat(100_000);
    const v2 = await db.dialplans.save({ tenantId: t.id, name: 'default', language: 'js', source: big, compiledJs: big, sourceMap: '{}' });
    await db.dialplans.save({ tenantId: t.id, name: 'transfer', language: 'ts', source: 't', compiledJs: 't', sourceMap: '{}' });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    const cur = await db.dialplans.getCurrent(t.id, 'default');
    expect(cur).toMatchObject({ version: 2, language: 'js' });
    expect(cur?.source.length).toBe(100_000);
    expect((await db.dialplans.list(t.id)).map((d) => [d.name, d.version])).toEqual([
      ['default', 2],
      ['transfer', 1],
    ]);
    expect((await db.dialplans.getVersion(t.id, 'default', 1))?.source).toBe('a');
    expect(await db.dialplans.getCurrent(t.id, 'missing')).toBeUndefined();
    await expect(db.dialplans.save({ tenantId: t.id, name: 'bad name', language: 'ts', source: '', compiledJs: '', sourceMap: '' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('hashes web passwords with scrypt and verifies API tokens by hash', async () => {
    const t = await db.tenants.add({ domain: 'users.test' });
    const u = await db.users.add({ email: 'Admin@Users.test', password: 'correct horse', role: 'admin', tenantId: t.id });
    expect(u).toMatchObject({ email: 'admin@users.test', role: 'admin', tenantId: t.id });
    await expect(db.users.add({ email: 'admin@users.test', password: 'whatever1', role: 'member', tenantId: t.id })).rejects.toBeInstanceOf(
      DuplicateError,
    );
    await expect(db.users.add({ email: 'r@users.test', password: 'whatever1', role: 'member', tenantId: null })).rejects.toBeInstanceOf(ValidationError);
    expect((await db.users.verifyPassword('admin@users.test', 'correct horse'))?.id).toBe(u.id);
    expect(await db.users.verifyPassword('admin@users.test', 'wrong horse')).toBeUndefined();

    const { token } = await db.tokens.create({ userId: u.id, name: 'ci' });
    expect((await db.tokens.verify(token))?.user.id).toBe(u.id);
    expect(await db.tokens.verify(token + 'x')).toBeUndefined();
    const expired = await db.tokens.create({ userId: u.id, name: 'old', expiresAt: Date.now() - 1000 });
    expect(await db.tokens.verify(expired.token)).toBeUndefined();
    expect((await db.tokens.listForUser(u.id)).map((x) => x.name)).toEqual(['ci', 'old']);
  });

  it('encrypts provider passwords and rejects duplicate provider names', async () => {
    const t = await db.tenants.add({ domain: 'prov.test' });
    const p = await db.providers.add({
      tenantId: t.id,
      name: 'trunk',
      serverUri: 'sip:sip.carrier.example',
      username: 'acct',
      password: 'trunk-pass',
      register: true,
      customHeaders: { 'X-Account': '42' },
    });
    expect(p).toMatchObject({ name: 'trunk', hasPassword: true, register: true, registerExpiry: 3600, customHeaders: { 'X-Account': '42' } });
    expect(JSON.stringify(p)).not.toContain('trunk-pass');
    expect(await db.providers.revealPassword(p.id)).toBe('trunk-pass');
    await expect(db.providers.add({ tenantId: t.id, name: 'trunk', serverUri: 'sip:x.example' })).rejects.toBeInstanceOf(DuplicateError);
    await expect(db.providers.add({ tenantId: t.id, name: 'x', serverUri: 'http://x' })).rejects.toBeInstanceOf(ValidationError);
    expect(() => decryptSecret(randomBytes(32), 'v1:AAAA:AAAA:AAAA')).toThrow();

    await db.providerRegistrations.set({ providerId: p.id, state: 'registering' });
    await db.providerRegistrations.set({ providerId: p.id, state: 'registered', expiresAt: 1_900_000_000_000 });
    expect(await db.providerRegistrations.get(p.id)).toMatchObject({ state: 'registered', expiresAt: 1_900_000_000_000, lastError: null });
  });

  it('upserts, loads and removes registrar bindings in batches', async () => {
    await db.tenants.add({ domain: 'reg.test' });
    const acc = await db.accounts.add({ username: 'phone', domain: 'reg.test', password: 'p' });
    const base = {
      accountId: acc.id,
      sourceTransport: 'udp',
      sourceAddress: '192.0.2.1',
      sourcePort: 5060,
      connectionId: null,
      localListener: 'udp:0.0.0.0:5060',
      q: 0.5,
      callId: 'c1',
      cseq: 1,
      instanceId: '<urn:uuid:1>',
      regId: 1,
      userAgent: 'test',
      path: ['<sip:edge.example;lr>'],
    };
    await db.bindings.upsertMany([
      { ...base, id: 'b1', contactUri: 'sip:phone@192.0.2.1', expiresAt: 2_000_000_000_000, attributes: { registeredAt: 5 } },
      { ...base, id: 'b2', contactUri: 'sip:phone@192.0.2.2', expiresAt: 1000 },
    ]);
    await db.bindings.upsertMany([{ ...base, id: 'b1', contactUri: 'sip:phone@192.0.2.9', expiresAt: 2_000_000_000_000, cseq: 2 }]);
    const all = await db.bindings.loadAll();
    expect(all.map((b) => [b.id, b.contactUri, b.cseq])).toEqual([
      ['b1', 'sip:phone@192.0.2.9', 2],
      ['b2', 'sip:phone@192.0.2.2', 1],
    ]);
    expect(all[1]?.attributes).toEqual({});
    expect(all[0]).toMatchObject({ q: 0.5, path: ['<sip:edge.example;lr>'], regId: 1, expiresAt: 2_000_000_000_000 });
    expect(await db.bindings.removeExpired(Date.now())).toBe(1);
    await db.bindings.removeMany(['b1']);
    expect(await db.bindings.loadAll()).toEqual([]);
  });

  it('writes and lists CDRs', async () => {
    const t = await db.tenants.add({ domain: 'cdr.test' });
    const id = await db.cdrs.insert({
      callId: 'abc@host',
      tenantId: t.id,
      caller: '1001',
      callee: '1002',
      direction: 'internal',
      dialplan: 'default',
      legs: [{ destination: '1002@local', status: 200 }],
      startedAt: 1_700_000_000_000,
      ringingAt: 1_700_000_001_000,
      answeredAt: 1_700_000_002_000,
      endedAt: 1_700_000_012_000,
      durationSec: 10,
      hangupSide: 'caller',
      hangupCause: 'BYE',
      status: 'answered',
      dialStrings: ['1002@local[tr=c]'],
      outcome: 'answered',
      ringSec: 2,
      history: [{ type: 'transfer', at: 1_700_000_005_000, kind: 'blind', result: 'refused', referTo: '<sip:0900@cdr.test>', legId: 1, status: 603 }],
    });
    expect(await db.cdrs.get(id)).toMatchObject({
      callId: 'abc@host', legs: [{ destination: '1002@local', status: 200 }], durationSec: 10, answeredAt: 1_700_000_002_000,
      dialStrings: ['1002@local[tr=c]'], outcome: 'answered', ringSec: 2,
      history: [{ type: 'transfer', result: 'refused', referTo: '<sip:0900@cdr.test>', legId: 1, status: 603 }],
    });
    expect((await db.cdrs.list({ tenantId: t.id })).map((c) => c.id)).toEqual([id]);
  });

  it('writes CDRs in batches (insertMany), more rows than one statement holds', async () => {
    const t = await db.tenants.add({ domain: 'cdr-batch.test' });
    const cdrs = Array.from({ length: 150 }, (_, i) => ({
      callId: `batch-${i}@host`,
      tenantId: t.id,
      caller: '1001',
      callee: '1002',
      direction: 'internal' as const,
      dialplan: null,
      legs: [{ destination: `100${i % 10}@local`, status: 486 }],
      startedAt: 1_700_000_000_000 + i,
      ringingAt: null,
      answeredAt: null,
      endedAt: 1_700_000_005_000 + i,
      durationSec: 0,
      hangupSide: 'callee' as const,
      hangupCause: 'Busy Here',
      status: '486',
      dialStrings: [`100${i % 10}@local`],
      outcome: 'failed',
      ringSec: 5,
      history: [],
    }));
    await db.cdrs.insertMany(cdrs);
    await db.cdrs.insertMany([]);
    const stored = await db.cdrs.list({ tenantId: t.id, limit: 1000 });
    expect(stored).toHaveLength(150);
    expect(stored[0]).toMatchObject({ callId: 'batch-149@host', legs: [{ destination: '1009@local', status: 486 }], answeredAt: null, hangupSide: 'callee' });
    expect(stored.map((c) => c.callId).sort()).toEqual(cdrs.map((c) => c.callId).sort());
  });

  it('enforces key/value limits per tenant', async () => {
    const a = await db.tenants.add({ domain: 'kv-a.test' });
    const b = await db.tenants.add({ domain: 'kv-b.test' });
    await db.kv.write(a.id, 'k', 'one');
    await db.kv.write(a.id, 'k', 'two');
    await db.kv.write(a.id, 'j', 'v'.repeat(10_000));
    expect(await db.kv.read(a.id, 'k')).toBe('two');
    expect(await db.kv.read(b.id, 'k')).toBeUndefined();
    expect(await db.kv.keys(a.id)).toEqual(['j', 'k']);
    await expect(db.kv.write(a.id, 'x'.repeat(65), 'v')).rejects.toThrow(/key: longer than 64/);
    await expect(db.kv.write(a.id, 'big', 'v'.repeat(10_001))).rejects.toThrow(/value: longer than 10000/);
    expect(await db.kv.read(a.id, 'big')).toBeUndefined();
    expect(await db.kv.delete(a.id, 'k')).toBe(true);
    expect(await db.kv.delete(a.id, 'k')).toBe(false);
  });

  it('keeps each tenant inside its key/value quota (keys, and UTF-8 bytes of keys and values)', async () => {
    const quoted = await openDatabase(url, { secretKey, kvQuota: { maxKeys: 3, maxBytes: 40 } });
    try {
      const a = await quoted.tenants.add({ domain: 'kv-quota-a.test' });
      const b = await quoted.tenants.add({ domain: 'kv-quota-b.test' });
      await quoted.kv.write(a.id, 'k1', 'v');
      await quoted.kv.write(a.id, 'k2', 'v');
      await quoted.kv.write(a.id, 'k3', 'v');
      // A fourth key is refused and nothing is written; overwriting a kept key is not a new key.
      await expect(quoted.kv.write(a.id, 'k4', 'v')).rejects.toThrow(/full: at most 3 keys/);
      expect(await quoted.kv.read(a.id, 'k4')).toBeUndefined();
      await quoted.kv.write(a.id, 'k1', 'longer value');
      expect(await quoted.kv.usage(a.id)).toEqual({ keys: 3, bytes: 2 + 12 + 3 + 3 });
      // Bytes, not characters: 'é' is two bytes; k2 grows from 3 to 2 + 2 * 11 = 24 → 41 > 40
      // (11 characters would fit).
      await expect(quoted.kv.write(a.id, 'k2', 'é'.repeat(11))).rejects.toThrow(/at most 40 bytes/);
      expect(await quoted.kv.read(a.id, 'k2')).toBe('v');
      // Another tenant has its own quota; deleting frees room.
      await quoted.kv.write(b.id, 'k4', 'v');
      await quoted.kv.delete(a.id, 'k3');
      await quoted.kv.write(a.id, 'k4', 'v');
      expect(await quoted.kv.keys(a.id)).toEqual(['k1', 'k2', 'k4']);
    } finally {
      await quoted.close();
    }
  });

  it('keeps the key/value usage figure right through overwrites, deletes and refused writes, also with two writers at once', async () => {
    const quoted = await openDatabase(url, { secretKey, kvQuota: { maxKeys: 50, maxBytes: 2_000 } });
    // Two switch processes share a MariaDB; a SQLite file has one process (one connection).
    const other = target.dialect === 'mysql' ? await openDatabase(url, { secretKey, kvQuota: { maxKeys: 50, maxBytes: 2_000 } }) : quoted;
    try {
      const t = await quoted.tenants.add({ domain: 'kv-usage.test' });
      // What the rows hold, counted the slow way: the figure must always say the same.
      const scanned = async () => {
        let bytes = 0;
        const keys = await quoted.kv.keys(t.id);
        for (const k of keys) bytes += Buffer.byteLength(k) + Buffer.byteLength((await quoted.kv.read(t.id, k))!);
        return { keys: keys.length, bytes };
      };
      expect(await quoted.kv.usage(t.id)).toEqual({ keys: 0, bytes: 0 });
      await quoted.kv.write(t.id, 'a', 'x');
      await quoted.kv.write(t.id, 'bb', 'yy');
      expect(await quoted.kv.usage(t.id)).toEqual({ keys: 2, bytes: 1 + 1 + 2 + 2 });
      await quoted.kv.write(t.id, 'a', 'é'.repeat(20)); // replaced with a bigger value (2 bytes a character)
      expect(await quoted.kv.usage(t.id)).toEqual({ keys: 2, bytes: 1 + 40 + 2 + 2 });
      await quoted.kv.write(t.id, 'a', 'z'); // and a smaller one
      expect(await quoted.kv.usage(t.id)).toEqual({ keys: 2, bytes: 1 + 1 + 2 + 2 });
      expect(await quoted.kv.delete(t.id, 'bb')).toBe(true);
      expect(await quoted.kv.delete(t.id, 'bb')).toBe(false);
      expect(await quoted.kv.usage(t.id)).toEqual({ keys: 1, bytes: 2 });
      await expect(quoted.kv.write(t.id, 'huge', 'v'.repeat(1_999))).rejects.toThrow(/at most 2000 bytes/);
      expect(await quoted.kv.usage(t.id)).toEqual(await scanned());

      // Writers at once (on MariaDB two switch processes), writing, overwriting and deleting the same keys.
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const repo = i % 2 === 0 ? quoted.kv : other.kv;
          const key = `k${i % 7}`;
          return i % 5 === 4 ? repo.delete(t.id, key) : repo.write(t.id, key, 'v'.repeat(i + 1));
        }),
      );
      expect(await quoted.kv.usage(t.id)).toEqual(await scanned());
      expect((await quoted.kv.usage(t.id)).keys).toBeGreaterThan(1);
    } finally {
      if (other !== quoted) await other.close();
      await quoted.close();
    }
  });

  it('records audit entries', async () => {
    await db.audit.record({ actor: 'cli', action: 'tenant.add', target: 'x.test', details: { name: 'X' }, sourceAddress: 'cli' });
    const [last] = await db.audit.list({ limit: 1 });
    expect(last).toMatchObject({ actor: 'cli', action: 'tenant.add', target: 'x.test', details: { name: 'X' } });
  });

  it('removes a tenant with everything that belongs to it', async () => {
    const t = await db.tenants.add({ domain: 'gone.test' });
    await db.accounts.add({ username: 'u', domain: 'gone.test', password: 'p' });
    await db.kv.write(t.id, 'k', 'v');
    expect(await db.tenants.remove(t.id)).toBe(true);
    expect(await db.tenants.findByDomain('gone.test')).toBeUndefined();
    expect(await db.kv.keys(t.id)).toEqual([]);
    expect((await db.accounts.listAll()).some((a) => a.tenantId === t.id)).toBe(false);
  });

  it('stores, lists, replaces and removes SIP bans', async () => {
    const now = Date.now();
    await db.bans.save({ address: '192.0.2.7', reason: 'source-limit', until: now + 600_000, count: 1, bannedAt: now });
    await db.bans.save({ address: '2001:db8:1:2::/64', reason: 'account-limit', until: now - 1, count: 1, bannedAt: now - 600_000 });
    await db.bans.save({ address: '192.0.2.7', reason: 'source-limit', until: now + 1_200_000, count: 2, bannedAt: now });
    expect(await db.bans.list(now)).toEqual([{ address: '192.0.2.7', reason: 'source-limit', until: now + 1_200_000, count: 2, bannedAt: now }]);
    expect(await db.bans.list()).toHaveLength(2);
    expect(await db.bans.removeEnded(now)).toBe(1);
    expect(await db.bans.remove('192.0.2.7')).toBe(true);
    expect(await db.bans.remove('192.0.2.7')).toBe(false);
    expect(await db.bans.list()).toEqual([]);
  });
});
