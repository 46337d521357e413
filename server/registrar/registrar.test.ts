import { describe, expect, it } from 'vitest';
import { AuthFailureGuard, parseAuthHeader } from '../sip/index.ts';
import type { ServerTransaction } from '../sip/index.ts';
import type { SipResponse } from '../sip/index.ts';
import { buildRegister, contactsOf, makeAccount, makeHarness, TENANT, UDP_SOURCE } from './test-support.ts';

const C1 = '<sip:alice@10.0.0.2:5060>';
const C2 = '<sip:alice@10.0.0.3:5062>';

describe('Registrar authentication', () => {
  it('challenges with SHA-256 then MD5 and a To tag', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret'));
    const res = await h.registrar.handle(buildRegister({ user: 'alice', contacts: [C1] }));
    expect(res.status).toBe(401);
    const challenges = res.headers.getAll('WWW-Authenticate').map((v) => parseAuthHeader(v)![0].params);
    expect(challenges.map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5']);
    expect(challenges[0].realm).toBe('example.com');
    expect(res.to.params['tag']).toBeTruthy();
    expect(h.location.size).toBe(0);
  });

  it('accepts SHA-256 credentials and answers 200 with contacts, expires and Date', async () => {
    const h = makeHarness();
    const alice = h.directory.add(makeAccount('alice', 'secret'));
    const res = await h.register({ user: 'alice', password: 'secret', contacts: [C1], userAgent: 'Phone/1.0' });
    expect(res.status).toBe(200);
    expect(contactsOf(res)).toEqual(['<sip:alice@10.0.0.2:5060>;expires=3600']);
    expect(res.headers.get('Date')).toBe(new Date(h.clock.now()).toUTCString());
    const [target] = h.location.lookup('alice', 'example.com');
    expect(target.target).toEqual(UDP_SOURCE);
    expect(target.requestUri).toBe('sip:alice@10.0.0.2:5060');
    expect(target.binding.accountId).toBe(alice.id);
    expect(target.binding.userAgent).toBe('Phone/1.0');
    expect(target.binding.localEndpoint).toEqual({ transport: 'udp', address: '198.51.100.1', port: 5060 });
    expect(h.events.map((e) => e.type)).toEqual(['registration.added']);
  });

  it('accepts MD5 credentials', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret'));
    const res = await h.register({ user: 'alice', password: 'secret', contacts: [C1], md5Only: true });
    expect(res.status).toBe(200);
    expect(h.location.size).toBe(1);
  });

  it('answers a wrong password and an unknown user identically', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret'));
    const wrong = await h.register({ user: 'alice', password: 'nope', contacts: [C1] });
    const unknown = await h.register({ user: 'mallory', password: 'secret', contacts: [C1], callId: 'call-2' });
    const shape = (r: SipResponse) => ({ status: r.status, reason: r.reason, headers: r.headers.entries().map(([n]) => n.toLowerCase()) });
    expect(wrong.status).toBe(403);
    expect(shape(unknown)).toEqual(shape(wrong));
    expect(h.location.size).toBe(0);
    const failed = h.events.filter((e) => e.type === 'registration.failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ tenantId: TENANT.id, source: UDP_SOURCE, status: 403 });
  });

  it('refuses an unknown domain with 403 Domain not serviced', async () => {
    const h = makeHarness();
    const res = await h.registrar.handle(buildRegister({ user: 'alice', domain: 'other.org', contacts: [C1] }));
    expect(res.status).toBe(403);
    expect(res.reason).toBe('Domain not serviced');
    expect(h.events[0]).toMatchObject({ type: 'registration.failed', tenantId: null, domain: 'other.org' });
  });

  it('accepts a tenant alias domain in the Request-URI, with the tenant realm', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret'));
    const first = await h.registrar.handle(buildRegister({ user: 'alice', domain: 'alias.example.com', contacts: [C1] }));
    expect(parseAuthHeader(first.headers.get('WWW-Authenticate')!)![0].params.realm).toBe('example.com');
    const res = await h.register({ user: 'alice', domain: 'alias.example.com', password: 'secret', contacts: [C1] });
    expect(res.status).toBe(200);
    expect(h.location.lookup('alice', 'example.com')).toHaveLength(1);
  });

  it('refuses a disabled account after authentication', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('bob', 'pw', { disabled: true }));
    const res = await h.register({ user: 'bob', password: 'pw', contacts: ['<sip:bob@10.0.0.9>'] });
    expect(res.status).toBe(403);
    expect(res.reason).toBe('Account disabled');
    expect(h.location.size).toBe(0);
  });

  it('refuses credentials of another user than the To user', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret'));
    h.directory.add(makeAccount('bob', 'pw'));
    const first = await h.registrar.handle(buildRegister({ user: 'alice', contacts: [C1] }));
    const { DigestClient } = await import('../sip/digest-client.ts');
    const answer = new DigestClient({ username: 'bob', password: 'pw' }).authorize(first, { method: 'REGISTER', uri: 'sip:example.com' })!;
    const res = await h.registrar.handle(buildRegister({ user: 'alice', cseq: 2, contacts: [C1], authorization: answer.headerValue }));
    expect(res.status).toBe(403);
    expect(res.reason).toBe('Authentication username does not match To');
  });

  it('trusts allowed source CIDRs (IPv4 and IPv6) alone only over connection transports', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('pbx', 'x', { allowedCidrs: ['192.0.2.0/24', '2001:db8::/32'] }));
    const tcp = await h.registrar.handle(buildRegister({ user: 'pbx', contacts: ['<sip:pbx@192.0.2.7;transport=tcp>'], source: { transport: 'tcp', address: '192.0.2.7', port: 5060, connectionId: 'k0' } }));
    expect(tcp.status).toBe(200);
    const v6 = await h.registrar.handle(buildRegister({ user: 'pbx', callId: 'c6', contacts: ['<sip:pbx@[2001:db8::5]>'], source: { transport: 'tcp', address: '2001:db8::5', port: 5060, connectionId: 'k1' } }));
    expect(v6.status).toBe(200);
    expect(contactsOf(v6)).toHaveLength(2);
  });

  it('over UDP an allowed source still needs the digest: a forged source address proves nothing', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('pbx', 'x', { allowedCidrs: ['192.0.2.0/24'] }));
    const source = { transport: 'udp' as const, address: '192.0.2.7', port: 5060 };
    const bare = await h.registrar.handle(buildRegister({ user: 'pbx', contacts: ['<sip:pbx@192.0.2.7>'], source }));
    expect(bare.status).toBe(401);
    expect(h.location.size).toBe(0);
    const withDigest = await h.register({ user: 'pbx', password: 'x', callId: 'c2', contacts: ['<sip:pbx@192.0.2.7>'], source });
    expect(withDigest.status).toBe(200);
  });

  it('trusts a UDP source alone only for an account that opted in (trustUdpSource)', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('pbx', 'x', { allowedCidrs: ['192.0.2.0/24'], trustUdpSource: true }));
    const res = await h.registrar.handle(buildRegister({ user: 'pbx', contacts: ['<sip:pbx@192.0.2.7>'], source: { transport: 'udp', address: '192.0.2.7', port: 5060 } }));
    expect(res.status).toBe(200);
  });

  it('refuses a source outside the CIDRs even with the right password, like an unknown user', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('pbx', 'x', { allowedCidrs: ['192.0.2.0/24'] }));
    const outside = { transport: 'tcp' as const, address: '198.51.100.9', port: 5060, connectionId: 'k9' };
    const first = await h.registrar.handle(buildRegister({ user: 'pbx', contacts: ['<sip:pbx@198.51.100.9>'], source: outside }));
    expect(first.status).toBe(401);
    const res = await h.register({ user: 'pbx', password: 'x', callId: 'c7', contacts: ['<sip:pbx@198.51.100.9>'], source: outside });
    expect(res.status).toBe(403);
    expect(res.reason).toBe('Forbidden');
    expect(h.location.size).toBe(0);
  });

  it('sends the response on the server transaction', async () => {
    const h = makeHarness();
    const sent: SipResponse[] = [];
    const req = buildRegister({ user: 'alice', contacts: [C1] });
    const tx: ServerTransaction = { request: req, state: 'Trying', respond: (r) => sent.push(r) };
    const res = await h.registrar.handle(req, tx);
    expect(sent).toEqual([res]);
  });

  it('answers 400 to a malformed Authorization header', async () => {
    const h = makeHarness();
    h.directory.add(makeAccount('alice', 'secret'));
    const res = await h.registrar.handle(buildRegister({ user: 'alice', contacts: [C1], authorization: 'Digest realm="example.com", username="alice' }));
    expect(res.status).toBe(400);
  });
});

describe('Registrar bindings', () => {
  async function withAlice(opts: Parameters<typeof makeHarness>[0] = {}) {
    const h = makeHarness(opts);
    h.directory.add(makeAccount('alice', 'secret', { allowedCidrs: ['203.0.113.0/24'], trustUdpSource: true }));
    return h;
  }

  it('rejects a too-brief interval with 423 and Min-Expires, but allows Expires 0', async () => {
    const h = await withAlice({ minExpiresSec: 60 });
    const res = await h.register({ user: 'alice', contacts: [C1], expires: 30 });
    expect(res.status).toBe(423);
    expect(res.headers.get('Min-Expires')).toBe('60');
    const perContact = await h.register({ user: 'alice', contacts: [`${C1};expires=10`] });
    expect(perContact.status).toBe(423);
    const zero = await h.register({ user: 'alice', contacts: [C1], expires: 0 });
    expect(zero.status).toBe(200);
    expect(h.location.size).toBe(0);
  });

  it('clamps to the maximum and applies the default expiry', async () => {
    const h = await withAlice({ maxExpiresSec: 1800, defaultExpiresSec: 900 });
    const res = await h.register({ user: 'alice', contacts: [`${C1};expires=99999`, C2] });
    expect(contactsOf(res).sort()).toEqual(['<sip:alice@10.0.0.2:5060>;expires=1800', '<sip:alice@10.0.0.3:5062>;expires=900']);
  });

  it('refreshes an existing binding and removes it with Expires 0 (per contact or header)', async () => {
    const h = await withAlice();
    await h.register({ user: 'alice', contacts: [C1, C2], expires: 600 });
    const id = h.location.bindingsOf('alice', 'example.com')[0].id;
    h.clock.advance(10_000);
    const refreshed = await h.register({ user: 'alice', contacts: [C1], expires: 600 });
    expect(refreshed.status).toBe(200);
    expect(h.location.bindingsOf('alice', 'example.com').map((b) => b.id)).toContain(id);
    expect(h.events.filter((e) => e.type === 'registration.refreshed')).toHaveLength(1);

    const removeOne = await h.register({ user: 'alice', contacts: [`${C1};expires=0`] });
    expect(contactsOf(removeOne)).toEqual(['<sip:alice@10.0.0.3:5062>;expires=590']);
    const removeOther = await h.register({ user: 'alice', contacts: [C2], expires: 0 });
    expect(contactsOf(removeOther)).toEqual([]);
    expect(h.events.filter((e) => e.type === 'registration.removed').map((e) => 'reason' in e && e.reason)).toEqual(['unregistered', 'unregistered']);
  });

  it('removes all bindings with "*" and Expires 0; refuses other wildcard forms', async () => {
    const h = await withAlice();
    await h.register({ user: 'alice', contacts: [C1, C2] });
    expect((await h.register({ user: 'alice', contacts: ['*'], expires: 3600 })).status).toBe(400);
    expect((await h.register({ user: 'alice', contacts: ['*'] })).status).toBe(400);
    expect((await h.register({ user: 'alice', contacts: ['*', C1], expires: 0 })).status).toBe(400);
    expect(h.location.size).toBe(2);
    const res = await h.register({ user: 'alice', contacts: ['*'], expires: 0 });
    expect(res.status).toBe(200);
    expect(contactsOf(res)).toEqual([]);
    expect(h.location.size).toBe(0);
  });

  it('fetches the current bindings when there is no Contact', async () => {
    const h = await withAlice();
    await h.register({ user: 'alice', contacts: [`${C1};q=0.5`] });
    const res = await h.register({ user: 'alice', callId: 'other' });
    expect(res.status).toBe(200);
    expect(contactsOf(res)).toEqual(['<sip:alice@10.0.0.2:5060>;expires=3600;q=0.5']);
  });

  it('orders lookups by q and rejects an invalid q', async () => {
    const h = await withAlice();
    await h.register({ user: 'alice', contacts: [`${C1};q=0.2`, `${C2};q=0.9`] });
    expect(h.location.lookup('alice', 'example.com').map((t) => t.requestUri)).toEqual(['sip:alice@10.0.0.3:5062', 'sip:alice@10.0.0.2:5060']);
    expect((await h.register({ user: 'alice', contacts: [`${C1};q=2`] })).status).toBe(400);
  });

  it('evicts the oldest binding past the per-account maximum', async () => {
    const h = await withAlice({ maxBindingsPerAccount: 2 });
    await h.register({ user: 'alice', callId: 'a', contacts: ['<sip:alice@10.0.0.1>'] });
    h.clock.advance(1000);
    await h.register({ user: 'alice', callId: 'b', contacts: ['<sip:alice@10.0.0.2>'] });
    h.clock.advance(1000);
    const res = await h.register({ user: 'alice', callId: 'c', contacts: ['<sip:alice@10.0.0.3>'] });
    expect(contactsOf(res).map((c) => c.split(';')[0]).sort()).toEqual(['<sip:alice@10.0.0.2>', '<sip:alice@10.0.0.3>']);
    expect(h.events.find((e) => e.type === 'registration.removed')).toMatchObject({ reason: 'evicted', contactUri: 'sip:alice@10.0.0.1' });
  });

  it('replaces a binding with the same +sip.instance and reg-id (RFC 5626)', async () => {
    const h = await withAlice();
    const inst = ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1';
    await h.register({ user: 'alice', callId: 'x1', contacts: [`<sip:alice@10.0.0.2:5060>${inst}`] });
    const res = await h.register({ user: 'alice', callId: 'x2', contacts: [`<sip:alice@10.0.0.2:6000>${inst}`], source: { transport: 'udp', address: '203.0.113.5', port: 41000 } });
    expect(contactsOf(res)).toEqual([`<sip:alice@10.0.0.2:6000>;expires=3600${inst}`]);
    expect(h.location.lookup('alice', 'example.com')[0].target.port).toBe(41000);
    expect(h.events.map((e) => e.type)).toEqual(['registration.added', 'registration.removed', 'registration.added']);
    // A different reg-id is a second flow, kept alongside.
    await h.register({ user: 'alice', callId: 'x3', contacts: [`<sip:alice@10.0.0.2:6000>${inst.replace('reg-id=1', 'reg-id=2')}`] });
    expect(h.location.size).toBe(2);
  });

  it('refuses an out-of-order CSeq for the same Call-ID and changes nothing', async () => {
    const h = await withAlice();
    await h.register({ user: 'alice', callId: 'same', cseq: 10, contacts: [C1], expires: 600 });
    const res = await h.register({ user: 'alice', callId: 'same', cseq: 10, contacts: [C1], expires: 0 });
    expect(res.status).toBe(500);
    expect(res.reason).toBe('Request out of order');
    expect(h.location.size).toBe(1);
    const wildcard = await h.register({ user: 'alice', callId: 'same', cseq: 5, contacts: ['*'], expires: 0 });
    expect(wildcard.status).toBe(500);
    expect((await h.register({ user: 'alice', callId: 'same', cseq: 11, contacts: [C1], expires: 0 })).status).toBe(200);
    expect(h.location.size).toBe(0);
  });

  it('answers 400 to a bad Expires header or an unparsable Contact', async () => {
    const h = await withAlice();
    expect((await h.register({ user: 'alice', contacts: [C1], expires: 'soon' })).status).toBe(400);
    expect((await h.register({ user: 'alice', contacts: ['<sip:alice@'] })).status).toBe(400);
  });
});

describe('Registrar brute-force guard', () => {
  it('bans a guessing source after 10 wrong answers while another source registers', async () => {
    const clock = { t: 1_800_000_000_000 };
    const guard = new AuthFailureGuard({ now: () => clock.t });
    const h = makeHarness({ authGuard: guard });
    h.directory.add(makeAccount('alice', 'secret'));
    const attacker = { transport: 'udp' as const, address: '198.51.100.66', port: 5060 };
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await h.register({ user: 'alice', password: `guess-${i}`, callId: `bf-${i}`, contacts: [C1], source: attacker });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(403));
    expect(guard.isBanned(attacker.address)).toBe(true);
    // Banned: refused at once, no challenge to answer even with the right password.
    const banned = await h.registrar.handle(buildRegister({ user: 'alice', callId: 'bf-x', contacts: [C1], source: attacker }));
    expect(banned.status).toBe(403);
    expect(banned.headers.getAll('WWW-Authenticate')).toEqual([]);
    const legit = await h.register({ user: 'alice', password: 'secret', callId: 'legit', contacts: [C2] });
    expect(legit.status).toBe(200);
  });

  it('counts a source outside the allowed CIDRs and a username mismatch as failures', async () => {
    const failures: string[] = [];
    const guard = { isBanned: () => false, recordFailure: (f: { reason?: string }) => void failures.push(f.reason ?? ''), bans: () => [], unban: () => false };
    const h = makeHarness({ authGuard: guard });
    h.directory.add(makeAccount('pbx', 'x', { allowedCidrs: ['192.0.2.0/24'] }));
    await h.register({ user: 'pbx', password: 'x', contacts: [C1] });
    expect(failures).toEqual(['source-not-allowed']);
  });
});
