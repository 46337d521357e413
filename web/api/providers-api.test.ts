import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY } from '../../db/index.ts';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Providers, DIDs and the destination policy over the API: PATCH keeps the password write-only
 * (set, kept, removed; never answered), settings merge and clear, the registration state shows,
 * DIDs route only to the tenant's own provider/account/dialplan, a number has one owner (409),
 * the policy is replaced whole and validated, and every write is audited and announced to the
 * switch (config.changed) so it applies at once.
 */
describe.each(testDatabaseTargets())('providers, DIDs and destination policy on $dialect', (target) => {
  let h: ApiHarness;
  let admin: Credentials;
  let tenantId: number;
  let otherTenant: number;
  const json = async (res: Response) => (await res.json()) as Json;

  beforeAll(async () => {
    h = await startApiHarness(target);
    tenantId = (await h.db.tenants.add({ domain: 'prov.test' })).id;
    otherTenant = (await h.db.tenants.add({ domain: 'prov-other.test' })).id;
    admin = (await h.userWithSession('admin', tenantId, 'admin@prov.test')).session;
  });
  afterAll(async () => h?.close());

  it('PATCH /providers/:id: password write-only, settings merged and cleared, registration state listed, audited, announced', async () => {
    const created = await json(await h.call('POST', '/providers', { auth: admin, body: { name: 'gizmo', serverUri: 'sip:sip.gizmo.example', username: 'u', password: 'first-secret', settings: { countryCode: '49', pingIntervalSeconds: 30 } } }));
    const id = created['provider'].id as number;
    expect(created['provider'].settings).toEqual({ countryCode: '49', pingIntervalSeconds: 30 });

    const res = await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { password: 'second-secret', register: true, settings: { provisionalTimeoutMs: 2000, pingIntervalSeconds: null } } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('second-secret');
    expect(JSON.parse(text)['provider']).toMatchObject({ hasPassword: true, register: true, settings: { countryCode: '49', provisionalTimeoutMs: 2000 } });
    expect(JSON.parse(text)['provider'].settings).not.toHaveProperty('pingIntervalSeconds');
    expect(await h.db.providers.revealPassword(id)).toBe('second-secret');
    // Changing something else keeps the password; null removes it.
    await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { fromUser: 'pbx' } });
    expect(await h.db.providers.revealPassword(id)).toBe('second-secret');
    expect((await json(await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { password: null } })))['provider'].hasPassword).toBe(false);

    // Bad input names the field; a name is not changeable (dialplans dial it).
    expect(await json(await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { settings: { provisionalTimeoutMs: 99_999 } } }))).toMatchObject({ field: 'settings.provisionalTimeoutMs' });
    expect(await json(await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { serverUri: 'http://x' } }))).toMatchObject({ field: 'serverUri' });
    expect((await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { name: 'renamed' } })).status).toBe(400);
    expect(await json(await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { settings: { privacy: 'bogus' } } }))).toMatchObject({ field: 'privacy' });

    // The registration agent's state, as the database holds it.
    await h.db.providerRegistrations.set({ providerId: id, state: 'needs-attention', lastError: '403 Forbidden' });
    const listed = await json(await h.call('GET', '/providers', { auth: admin }));
    expect(listed['items'][0].registration).toMatchObject({ state: 'needs-attention', lastError: '403 Forbidden' });
    expect((await json(await h.call('GET', `/providers/${id}`, { auth: admin })))['provider'].registration.state).toBe('needs-attention');

    const audits = await h.db.audit.list({ tenantId, action: 'provider.update' });
    expect(audits.length).toBe(3);
    expect(JSON.stringify(audits)).not.toContain('second-secret');
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'config.changed', kind: 'provider', name: 'gizmo', tenantId }));

    // Another tenant's provider is not found.
    const theirs = await h.db.providers.add({ tenantId: otherTenant, name: 'theirs', serverUri: 'sip:x.example' });
    expect((await h.call('PATCH', `/providers/${theirs.id}`, { auth: admin, body: { fromUser: 'x' } })).status).toBe(404);
  });

  it('custom headers the switch owns are refused on POST and PATCH with 400 naming the field, and nothing is stored', async () => {
    for (const name of ['Via', 'from', 'To', 'Call-ID', 'i', 'CSeq', 'Contact', 'Max-Forwards', 'Route', 'Authorization', 'Content-Type', 'l']) {
      const res = await h.call('POST', '/providers', { auth: admin, body: { name: 'hdr-bad', serverUri: 'sip:hdr.example', customHeaders: { 'X-Account': 'ok', [name]: 'evil' } } });
      expect(res.status, name).toBe(400);
      const body = await json(res);
      expect(body, name).toMatchObject({ field: 'customHeaders' });
      expect(body['error'], name).toContain(name);
    }
    expect(await h.db.providers.findByName(tenantId, 'hdr-bad')).toBeUndefined();

    const created = await h.call('POST', '/providers', { auth: admin, body: { name: 'hdr', serverUri: 'sip:hdr.example', customHeaders: { 'X-Account': 'acme' } } });
    expect(created.status).toBe(201);
    const id = (await json(created))['provider'].id as number;
    for (const name of ['Call-ID', 'contact', 'Record-Route', 'Proxy-Authorization', 'Content-Length']) {
      const res = await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { customHeaders: { [name]: 'evil', 'X-Other': 'fine' } } });
      expect(res.status, name).toBe(400);
      const body = await json(res);
      expect(body, name).toMatchObject({ field: 'customHeaders' });
      expect(body['error'], name).toContain(name);
    }
    expect((await h.db.providers.get(id))?.customHeaders).toEqual({ 'X-Account': 'acme' });
    // A header the switch does not own is stored.
    const ok = await h.call('PATCH', `/providers/${id}`, { auth: admin, body: { customHeaders: { 'X-Other': 'fine' } } });
    expect(ok.status).toBe(200);
    expect((await json(ok))['provider'].customHeaders).toEqual({ 'X-Other': 'fine' });
  });

  it('DIDs: create, get, route changes, delete; only the tenant\'s own provider, account and dialplan; one owner per number', async () => {
    const provider = (await h.db.providers.findByName(tenantId, 'gizmo'))!;
    await h.db.accounts.add({ username: '1001', domain: 'prov.test', password: 'long-password-1001' });
    await h.db.accounts.add({ username: '2001', domain: 'prov-other.test', password: 'long-password-2001' });
    const theirProvider = (await h.db.providers.findByName(otherTenant, 'theirs'))!;

    const res = await h.call('POST', '/dids', { auth: admin, body: { number: '+49 30 123456', providerId: provider.id, account: '1001' } });
    expect(res.status).toBe(201);
    const did = (await json(res))['did'];
    expect(did).toMatchObject({ number: '+4930123456', providerId: provider.id, provider: 'gizmo', account: '1001', dialplan: null });
    expect((await h.call('POST', '/dids', { auth: admin, body: { number: '+4930123456' } })).status).toBe(409);
    expect(await json(await h.call('POST', '/dids', { auth: admin, body: { number: 'call me' } }))).toMatchObject({ field: 'number' });
    expect(await json(await h.call('POST', '/dids', { auth: admin, body: { number: '+4930999', providerId: theirProvider.id } }))).toMatchObject({ field: 'providerId' });
    expect(await json(await h.call('POST', '/dids', { auth: admin, body: { number: '+4930999', account: '2001' } }))).toMatchObject({ field: 'account' });
    expect(await json(await h.call('POST', '/dids', { auth: admin, body: { number: '+4930999', dialplan: 'nope' } }))).toMatchObject({ field: 'dialplan' });

    const patched = await json(await h.call('PATCH', `/dids/${did.id}`, { auth: admin, body: { account: null, providerId: null } }));
    expect(patched['did']).toMatchObject({ account: null, providerId: null, provider: null });
    expect((await h.db.dids.findByNumber('+4930123456'))?.accountUsername).toBeNull();
    expect((await json(await h.call('GET', '/dids', { auth: admin })))['items'].map((x: Json) => x['number'])).toEqual(['+4930123456']);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'config.changed', kind: 'did', name: '+4930123456' }));

    // Another tenant's DID: 404 on every route.
    const theirs = await h.db.dids.add({ tenantId: otherTenant, number: '+4940111' });
    for (const [method, body] of [['GET'], ['PATCH', { dialplan: null }], ['DELETE']] as const) {
      expect((await h.call(method, `/dids/${theirs.id}`, { auth: admin, ...(body && { body }) })).status).toBe(404);
    }
    expect(await h.db.dids.findByNumber('+4940111')).toBeDefined();

    expect((await h.call('DELETE', `/dids/${did.id}`, { auth: admin })).status).toBe(204);
    expect(await h.db.dids.findByNumber('+4930123456')).toBeUndefined();
    expect((await h.db.audit.list({ tenantId, action: 'did.*' })).map((a) => a.action).sort()).toEqual(['did.add', 'did.remove', 'did.update']);
  });

  it('destination policy: defaults, replaced whole and validated, reset; per tenant', async () => {
    expect((await json(await h.call('GET', '/destination-policy', { auth: admin })))['policy']).toEqual(DEFAULT_CALL_POLICY);
    const policy = { ...DEFAULT_CALL_POLICY, allowedPrefixes: ['+88234'], maxConcurrentPerAccount: 1 };
    const put = await h.call('PUT', '/destination-policy', { auth: admin, body: policy });
    expect(put.status).toBe(200);
    expect((await json(put))['policy']).toEqual(policy);
    expect(await h.db.callPolicies.get(tenantId)).toEqual(policy);
    expect(await h.db.callPolicies.get(otherTenant)).toEqual(DEFAULT_CALL_POLICY);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'config.changed', kind: 'policy', tenantId }));

    expect(await json(await h.call('PUT', '/destination-policy', { auth: admin, body: { ...policy, deniedPrefixes: ['882'] } }))).toMatchObject({ field: 'deniedPrefixes.0' });
    // PUT replaces the whole policy: a missing field is a 400, not a silent default.
    const { maxDurationSeconds: _omit, ...partial } = policy;
    expect(await json(await h.call('PUT', '/destination-policy', { auth: admin, body: partial }))).toMatchObject({ field: 'maxDurationSeconds' });

    expect((await json(await h.call('DELETE', '/destination-policy', { auth: admin })))['policy']).toEqual(DEFAULT_CALL_POLICY);
    expect((await h.db.audit.list({ tenantId, action: 'policy.*' })).map((a) => a.action).sort()).toEqual(['policy.reset', 'policy.update']);
  });
});
