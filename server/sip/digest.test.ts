import { describe, expect, it } from 'vitest';
import { DigestServer } from './digest.ts';
import { DigestClient } from './digest-client.ts';
import { parseAuthHeader } from './digest-header.ts';
import { computeDigestResponse, computeHa1, type DigestAlgorithm } from './digest-hash.ts';

const SECRET = 'test-secret-0123456789abcdef';
const REALM = 'example.com';
const URI = 'sip:example.com';

function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

function ha1Table(password = 'secret') {
  return (username: string, algorithm: DigestAlgorithm): string | undefined =>
    username === 'alice' ? computeHa1(algorithm, 'alice', REALM, password) : undefined;
}

function challengeResponse(values: string[], status = 401) {
  const name = status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
  return { status, headers: { entries: (): Array<[string, string]> => values.map((v) => [name, v]) } };
}

describe('digest header parsing', () => {
  it('handles quoted strings with escapes, commas inside quotes and tokens', () => {
    const parsed = parseAuthHeader('Digest username="a\\"b", realm="x, y",nonce=abc ,  qop=auth, nc=00000001');
    expect(parsed).toEqual([
      { scheme: 'Digest', params: { username: 'a"b', realm: 'x, y', nonce: 'abc', qop: 'auth', nc: '00000001' } },
    ]);
  });

  it('splits several challenges in one value', () => {
    const parsed = parseAuthHeader('Digest realm="a", nonce="1", Digest realm="b", nonce="2"');
    expect(parsed?.map((p) => p.params.realm)).toEqual(['a', 'b']);
  });

  it('rejects unterminated quotes and duplicate parameters', () => {
    expect(parseAuthHeader('Digest realm="abc')).toBeUndefined();
    expect(parseAuthHeader('Digest realm="a", realm="b"')).toBeUndefined();
    expect(parseAuthHeader('Digest realm="a" nonce="b"')).toBeUndefined();
  });

  it('unescapes anywhere in a quoted string and refuses a backslash with nothing after it', () => {
    expect(parseAuthHeader('Digest a="\\\\x\\"", b="", c="x\\y\\z", d="é,=\\t"')).toEqual([
      { scheme: 'Digest', params: { a: '\\x"', b: '', c: 'xyz', d: 'é,=t' } },
    ]);
    expect(parseAuthHeader('Digest realm="abc\\')).toBeUndefined();
    expect(parseAuthHeader('Digest réalm="x"')).toBeUndefined();
    expect(parseAuthHeader('Digest realm=a/b')).toBeUndefined();
    expect(parseAuthHeader('Digest\trealm =\t"x" ,\r\n nonce= y')).toEqual([{ scheme: 'Digest', params: { realm: 'x', nonce: 'y' } }]);
  });
});

describe('known answer (RFC 2617 §3.5)', () => {
  it('Mufasa / Circle Of Life', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const response = computeDigestResponse({
      algorithm: 'MD5', ha1, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html',
      qop: 'auth', nc: '00000001', cnonce: '0a4f113b',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('the client produces the same header for that challenge', () => {
    const client = new DigestClient({ username: 'Mufasa', password: 'Circle Of Life', cnonce: () => '0a4f113b' });
    const auth = client.authorize(
      challengeResponse([
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      ]),
      { method: 'GET', uri: '/dir/index.html' },
    );
    expect(auth?.headerName).toBe('Authorization');
    const params = parseAuthHeader(auth!.headerValue)![0].params;
    expect(params.response).toBe('6629fae49393a05397450978507c4ef1');
    expect(params.nc).toBe('00000001');
    expect(params.opaque).toBe('5ccc069c403ebaf9f0171e9517f40e41');
  });
});

describe('DigestServer', () => {
  it('offers SHA-256 first, then MD5, with qop auth', () => {
    const server = new DigestServer({ secret: SECRET, opaque: 'op' });
    const values = server.challengeHeaders(REALM);
    expect(values).toHaveLength(2);
    const [sha, md5] = values.map((v) => parseAuthHeader(v)![0].params);
    expect(sha.algorithm).toBe('SHA-256');
    expect(md5.algorithm).toBe('MD5');
    expect(sha.qop).toBe('auth');
    expect(sha.realm).toBe(REALM);
    expect(sha.opaque).toBe('op');
    expect(sha.stale).toBeUndefined();
    expect(server.challengeHeaders(REALM, { stale: true }).every((v) => parseAuthHeader(v)![0].params.stale === 'true')).toBe(true);
  });

  for (const algorithm of ['SHA-256', 'MD5'] as const) {
    it(`round trip with ${algorithm}`, () => {
      const server = new DigestServer({ secret: SECRET, algorithms: [algorithm] });
      const client = new DigestClient({ username: 'alice', password: 'secret' });
      const auth = client.authorize(challengeResponse(server.challengeHeaders(REALM), 407), { method: 'REGISTER', uri: URI });
      expect(auth?.headerName).toBe('Proxy-Authorization');
      expect(auth?.algorithm).toBe(algorithm);
      const result = server.verify({
        headerValues: [auth!.headerValue], realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table(),
      });
      expect(result).toEqual({ ok: true, username: 'alice', algorithm });
    });
  }

  it('invalidates a nonce after 3 wrong answers, even for the right password then', () => {
    const server = new DigestServer({ secret: SECRET, algorithms: ['MD5'] });
    const challenge = server.challengeHeaders(REALM);
    const verify = (password: string) => {
      const auth = new DigestClient({ username: 'alice', password }).answer(challenge, { method: 'REGISTER', uri: URI })!;
      return server.verify({ headerValues: [auth.headerValue], realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() });
    };
    for (const guess of ['a', 'b', 'c']) expect(verify(guess)).toMatchObject({ ok: false, reason: 'bad-response' });
    expect(verify('d')).toMatchObject({ ok: false, reason: 'invalid-nonce' });
    expect(verify('secret')).toMatchObject({ ok: false, reason: 'invalid-nonce' });
    // A fresh nonce works again.
    const fresh = new DigestClient({ username: 'alice', password: 'secret' }).answer(server.challengeHeaders(REALM), { method: 'REGISTER', uri: URI })!;
    expect(server.verify({ headerValues: [fresh.headerValue], realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() })).toMatchObject({ ok: true });
  });

  it('client picks SHA-256 when both are offered', () => {
    const server = new DigestServer({ secret: SECRET });
    const client = new DigestClient({ username: 'alice', password: 'secret' });
    const auth = client.authorize(challengeResponse(server.challengeHeaders(REALM)), { method: 'REGISTER', uri: URI });
    expect(auth?.algorithm).toBe('SHA-256');
  });

  it('checks method and digest uri', () => {
    const server = new DigestServer({ secret: SECRET });
    const client = new DigestClient({ username: 'alice', password: 'secret' });
    const auth = client.answer(server.challengeHeaders(REALM), { method: 'REGISTER', uri: URI })!;
    const base = { headerValues: [auth.headerValue], realm: REALM, lookupHa1: ha1Table() };
    expect(server.verify({ ...base, method: 'INVITE', requestUri: URI })).toMatchObject({ ok: false, reason: 'bad-response' });
    expect(server.verify({ ...base, method: 'REGISTER', requestUri: 'sip:other.com' })).toMatchObject({ ok: false, reason: 'uri-mismatch' });
    expect(server.verify({ ...base, method: 'REGISTER', requestUri: (u) => u === URI })).toMatchObject({ ok: true });
  });

  it('expired nonce with a correct answer gives stale=true; a wrong answer does not', () => {
    const clock = fakeClock();
    const server = new DigestServer({ secret: SECRET, nonceLifetimeSec: 300, now: clock.now });
    const challenge = server.challengeHeaders(REALM);
    const good = new DigestClient({ username: 'alice', password: 'secret' }).answer(challenge, { method: 'REGISTER', uri: URI })!;
    const bad = new DigestClient({ username: 'alice', password: 'wrong' }).answer(challenge, { method: 'REGISTER', uri: URI })!;
    clock.advance(301_000);
    const input = { realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() };
    expect(server.verify({ ...input, headerValues: [good.headerValue] })).toEqual({ ok: false, reason: 'stale-nonce', stale: true });
    expect(server.verify({ ...input, headerValues: [bad.headerValue] })).toEqual({ ok: false, reason: 'bad-response', stale: false });
  });

  it('rejects a replayed nonce count and accepts a higher one', () => {
    const server = new DigestServer({ secret: SECRET });
    const client = new DigestClient({ username: 'alice', password: 'secret' });
    const challenge = server.challengeHeaders(REALM);
    const first = client.answer(challenge, { method: 'REGISTER', uri: URI })!;
    const input = { realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() };
    expect(server.verify({ ...input, headerValues: [first.headerValue] }).ok).toBe(true);
    expect(server.verify({ ...input, headerValues: [first.headerValue] })).toEqual({ ok: false, reason: 'nonce-replay', stale: true });
    const second = client.answer(challenge, { method: 'REGISTER', uri: URI })!;
    expect(parseAuthHeader(second.headerValue)![0].params.nc).toBe('00000002');
    expect(server.verify({ ...input, headerValues: [second.headerValue] }).ok).toBe(true);
  });

  it('treats nonces evicted while fresh as replays (bounded state)', () => {
    const server = new DigestServer({ secret: SECRET, maxTrackedNonces: 2 });
    const input = { realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() };
    const answers = [0, 1, 2].map(() => {
      const c = new DigestClient({ username: 'alice', password: 'secret' });
      const challenge = server.challengeHeaders(REALM);
      return { c, challenge, first: c.answer(challenge, { method: 'REGISTER', uri: URI })! };
    });
    for (const a of answers) expect(server.verify({ ...input, headerValues: [a.first.headerValue] }).ok).toBe(true);
    expect(server.trackedNonceCount()).toBe(2);
    const again = answers[0].c.answer(answers[0].challenge, { method: 'REGISTER', uri: URI })!;
    expect(server.verify({ ...input, headerValues: [again.headerValue] })).toMatchObject({ ok: false, stale: true });
  });

  it('wrong password and unknown user give the same answer', () => {
    const server = new DigestServer({ secret: SECRET });
    const challenge = server.challengeHeaders(REALM);
    const input = { realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() };
    const wrong = new DigestClient({ username: 'alice', password: 'nope' }).answer(challenge, { method: 'REGISTER', uri: URI })!;
    const unknown = new DigestClient({ username: 'mallory', password: 'secret' }).answer(challenge, { method: 'REGISTER', uri: URI })!;
    const a = server.verify({ ...input, headerValues: [wrong.headerValue] });
    const b = server.verify({ ...input, headerValues: [unknown.headerValue] });
    expect(a).toEqual({ ok: false, reason: 'bad-response', stale: false });
    expect(b).toEqual(a);
  });

  it('rejects a tampered nonce, a nonce for another realm, and another server secret', () => {
    const server = new DigestServer({ secret: SECRET });
    const client = new DigestClient({ username: 'alice', password: 'secret' });
    const challenge = server.challengeHeaders(REALM);
    const nonce = parseAuthHeader(challenge[0])![0].params.nonce;
    const flipped = nonce.slice(0, 5) + (nonce[5] === 'A' ? 'B' : 'A') + nonce.slice(6);
    const tampered = client.answer([challenge[0].replace(nonce, flipped)], { method: 'REGISTER', uri: URI })!;
    const input = { realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() };
    expect(server.verify({ ...input, headerValues: [tampered.headerValue] })).toEqual({ ok: false, reason: 'invalid-nonce', stale: false });

    const otherRealmNonce = server.createNonce('other.com');
    const cross = client.answer([challenge[0].replace(nonce, otherRealmNonce)], { method: 'REGISTER', uri: URI })!;
    expect(server.verify({ ...input, headerValues: [cross.headerValue] })).toMatchObject({ ok: false, reason: 'invalid-nonce' });

    const foreign = new DigestServer({ secret: 'another-secret-0123456789' });
    const fromForeign = client.answer(foreign.challengeHeaders(REALM), { method: 'REGISTER', uri: URI })!;
    expect(server.verify({ ...input, headerValues: [fromForeign.headerValue] })).toMatchObject({ ok: false, reason: 'invalid-nonce' });
  });

  it('refuses the RFC 2069 no-qop form, missing and malformed credentials', () => {
    const server = new DigestServer({ secret: SECRET });
    const nonce = server.createNonce(REALM);
    const ha1 = computeHa1('MD5', 'alice', REALM, 'secret');
    const response = computeDigestResponse({ algorithm: 'MD5', ha1, nonce, method: 'REGISTER', uri: URI });
    const noQop = `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="${URI}", response="${response}"`;
    const input = { realm: REALM, method: 'REGISTER', requestUri: URI, lookupHa1: ha1Table() };
    expect(server.verify({ ...input, headerValues: [noQop] })).toMatchObject({ ok: false, reason: 'unsupported-qop' });
    expect(server.verify({ ...input, headerValues: [] })).toMatchObject({ ok: false, reason: 'missing' });
    expect(server.verify({ ...input, headerValues: ['Digest realm="example.com'] })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(server.verify({ ...input, headerValues: ['Digest username="alice", realm="other.com", nonce="x", uri="u", response="r"'] }))
      .toMatchObject({ ok: false, reason: 'missing' });
    expect(server.verify({ ...input, headerValues: [noQop.replace('Digest', 'Digest algorithm=MD5-sess,')] }))
      .toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
  });

  it('client answers RFC 2069 challenges without qop', () => {
    const client = new DigestClient({ username: 'alice', password: 'secret' });
    const auth = client.answer(['Digest realm="carrier", nonce="n1"'], { method: 'INVITE', uri: 'sip:1@carrier' })!;
    const p = parseAuthHeader(auth.headerValue)![0].params;
    expect(p.qop).toBeUndefined();
    expect(p.response).toBe(computeDigestResponse({
      algorithm: 'MD5', ha1: computeHa1('MD5', 'alice', 'carrier', 'secret'), nonce: 'n1', method: 'INVITE', uri: 'sip:1@carrier',
    }));
    expect(client.answer(['Digest realm="x", nonce="n", qop="auth-int"'], { method: 'INVITE', uri: 'sip:x' })).toBeUndefined();
    expect(client.answer(['Basic realm="x"'], { method: 'INVITE', uri: 'sip:x' })).toBeUndefined();
  });
});
