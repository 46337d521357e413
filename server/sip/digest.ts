import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader, type AuthParamOut } from './digest-header.ts';
import { computeDigestResponse, parseDigestAlgorithm, type DigestAlgorithm } from './digest-hash.ts';
import { sharedRandomPool } from './random-pool.ts';

export type { DigestAlgorithm } from './digest-hash.ts';

/**
 * Server side of SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
 *
 * Stateless nonces: each nonce carries its issue time, a random part and an HMAC over both
 * plus the realm, so any node holding the same secret can check it. The only state is a
 * bounded map nonce → highest nonce-count seen, to refuse replays while a nonce is fresh.
 *
 * Only `qop=auth` is accepted. The RFC 2069 no-qop form is refused on purpose: without
 * nc/cnonce a captured REGISTER can be replayed verbatim for the nonce's whole lifetime.
 * Every client written this century answers `qop=auth`.
 */

export interface DigestServerOptions {
  /** HMAC key for nonces; share it between nodes behind one load balancer. ≥ 16 bytes. */
  secret: string | Buffer;
  /** After this a nonce with a correct response gets `stale=true`. Default 300 s. */
  nonceLifetimeSec?: number;
  /** Offered in this order (one challenge header each). Default SHA-256 then MD5. */
  algorithms?: DigestAlgorithm[];
  /** A constant `opaque` to send; clients must echo it. Omitted when unset. */
  opaque?: string;
  /** Upper bound on nonces whose nonce-count is tracked. Default 100 000. */
  maxTrackedNonces?: number;
  /**
   * Wrong answers a nonce survives; then it is refused like a forged one, so every further guess
   * costs the guesser a new round trip for a challenge (and the brute-force guard sees each).
   * Default 3.
   */
  maxWrongAnswersPerNonce?: number;
  /** Clock in ms (tests inject a fake). */
  now?: () => number;
}

/** A parsed `Authorization`/`Proxy-Authorization` Digest header. */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  /** Undefined when the client named an algorithm Patchbay does not speak. */
  algorithm: DigestAlgorithm | undefined;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

export type DigestFailureReason =
  | 'missing'
  | 'malformed'
  | 'realm-mismatch'
  | 'unsupported-algorithm'
  | 'unsupported-qop'
  | 'opaque-mismatch'
  | 'invalid-nonce'
  | 'uri-mismatch'
  | 'bad-response'
  | 'stale-nonce'
  | 'nonce-replay';

export type DigestVerifyResult =
  | { ok: true; username: string; algorithm: DigestAlgorithm }
  /** `stale`: challenge again with `stale=true` (the client knew the password). */
  | { ok: false; reason: DigestFailureReason; stale: boolean };

export interface DigestVerifyInput {
  /** All values of Authorization (401) or Proxy-Authorization (407), whole header values. */
  headerValues: string[];
  realm: string;
  method: string;
  /** The Request-URI as text (exact match) or a predicate comparing the digest `uri` to it. */
  requestUri: string | ((digestUri: string) => boolean);
  /**
   * Stored HA1 for (username, algorithm), or undefined for an unknown user / disabled algorithm.
   * Called once with the username from the credentials.
   */
  lookupHa1: (username: string, algorithm: DigestAlgorithm) => string | undefined;
}

const NONCE_TIME_BYTES = 8;
const NONCE_RANDOM_BYTES = 8;
const NONCE_MAC_BYTES = 16;
const NONCE_BYTES = NONCE_TIME_BYTES + NONCE_RANDOM_BYTES + NONCE_MAC_BYTES;
/** Nonces dated this far in the future are forged or from a node with a broken clock. */
const FUTURE_SLACK_MS = 60_000;

interface NonceUse {
  highestNc: number;
  issuedAt: number;
}

export class DigestServer {
  private readonly secret: Buffer;
  private readonly lifetimeMs: number;
  private readonly algorithms: DigestAlgorithm[];
  private readonly opaque: string | undefined;
  private readonly maxTracked: number;
  private readonly now: () => number;
  /** Insertion order ≈ first-use order, which lets pruning stop at the first fresh entry. */
  private readonly nonceUses = new Map<string, NonceUse>();
  /** Highest issue time among nonces evicted for space while still fresh: they read as stale. */
  private evictedWatermark = -1;
  private readonly maxWrongAnswers: number;
  /** Nonce → wrong answers seen; same insertion-order pruning and bound as `nonceUses`. */
  private readonly wrongAnswers = new Map<string, NonceUse>();
  /** Fresh entries dropped from either table for space (the bound doing its work). */
  private evictions = 0;
  /** Fixed HA1 values for unknown users, so their check costs the same hash work. */
  private readonly dummyHa1: Record<DigestAlgorithm, string>;

  constructor(opts: DigestServerOptions) {
    this.secret = typeof opts.secret === 'string' ? Buffer.from(opts.secret, 'utf8') : opts.secret;
    if (this.secret.length < 16) throw new Error('DigestServer secret must be at least 16 bytes');
    this.lifetimeMs = (opts.nonceLifetimeSec ?? 300) * 1000;
    this.algorithms = opts.algorithms?.length ? [...opts.algorithms] : ['SHA-256', 'MD5'];
    this.opaque = opts.opaque;
    this.maxTracked = opts.maxTrackedNonces ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.maxWrongAnswers = Math.max(1, opts.maxWrongAnswersPerNonce ?? 3);
    this.dummyHa1 = {
      MD5: randomBytes(16).toString('hex'),
      'SHA-256': randomBytes(32).toString('hex'),
    };
  }

  /** A fresh nonce for `realm`. */
  createNonce(realm: string): string {
    const body = Buffer.allocUnsafe(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(this.now()))), 0);
    sharedRandomPool.fill(body, NONCE_TIME_BYTES, NONCE_RANDOM_BYTES);
    return Buffer.concat([body, this.mac(body, realm)]).toString('base64url');
  }

  /**
   * Header values for a 401 `WWW-Authenticate` or 407 `Proxy-Authenticate`: one per offered
   * algorithm, strongest first (RFC 8760 §2.4), all sharing one nonce.
   */
  challengeHeaders(realm: string, opts: { stale?: boolean } = {}): string[] {
    const nonce = this.createNonce(realm);
    return this.algorithms.map((algorithm) => {
      const params: AuthParamOut[] = [
        { name: 'realm', value: realm, quoted: true },
        { name: 'nonce', value: nonce, quoted: true },
        { name: 'algorithm', value: algorithm, quoted: false },
        { name: 'qop', value: 'auth', quoted: true },
      ];
      if (this.opaque !== undefined) params.push({ name: 'opaque', value: this.opaque, quoted: true });
      if (opts.stale) params.push({ name: 'stale', value: 'true', quoted: false });
      return formatAuthHeader('Digest', params);
    });
  }

  /**
   * Picks the Digest credentials for `realm` among header values. Returns `'malformed'` when a
   * Digest value for the realm cannot be parsed or lacks a required parameter.
   */
  findCredentials(headerValues: string[], realm: string): DigestCredentials | 'malformed' | undefined {
    let malformed = false;
    for (const value of headerValues) {
      const parsed = parseAuthHeader(value);
      if (!parsed) {
        malformed = true;
        continue;
      }
      for (const item of parsed) {
        if (item.scheme.toLowerCase() !== 'digest') continue;
        const p = item.params;
        if (p.realm !== realm) continue;
        if (!p.username || !p.nonce || !p.uri || !p.response) return 'malformed';
        return { ...toCredentials(p), algorithm: parseDigestAlgorithm(p.algorithm) };
      }
    }
    return malformed ? 'malformed' : undefined;
  }

  verify(input: DigestVerifyInput): DigestVerifyResult {
    if (input.headerValues.length === 0) return fail('missing');
    const creds = this.findCredentials(input.headerValues, input.realm);
    if (creds === undefined) return fail('missing');
    if (creds === 'malformed') return fail('malformed');
    const algorithm = creds.algorithm;
    if (!algorithm || !this.algorithms.includes(algorithm)) return fail('unsupported-algorithm');
    if (creds.qop === undefined || creds.qop.toLowerCase() !== 'auth') return fail('unsupported-qop');
    if (!creds.nc || !/^[0-9a-fA-F]{8}$/.test(creds.nc) || !creds.cnonce) return fail('malformed');
    if (this.opaque !== undefined && creds.opaque !== this.opaque) return fail('opaque-mismatch');

    const issuedAt = this.checkNonce(creds.nonce, input.realm);
    if (issuedAt === undefined) return fail('invalid-nonce');
    if ((this.wrongAnswers.get(creds.nonce)?.highestNc ?? 0) >= this.maxWrongAnswers) return fail('invalid-nonce');

    const uriOk =
      typeof input.requestUri === 'string' ? creds.uri === input.requestUri : input.requestUri(creds.uri);
    if (!uriOk) return fail('uri-mismatch');

    // Unknown users are checked against a dummy HA1 so they cost and look like a wrong password.
    const storedHa1 = input.lookupHa1(creds.username, algorithm);
    const ha1 = storedHa1 ?? this.dummyHa1[algorithm];
    const expected = computeDigestResponse({
      algorithm,
      ha1,
      nonce: creds.nonce,
      method: input.method,
      uri: creds.uri,
      qop: 'auth',
      nc: creds.nc,
      cnonce: creds.cnonce,
    });
    const expectedBuf = Buffer.from(expected, 'latin1');
    const givenBuf = Buffer.from(creds.response.toLowerCase(), 'latin1');
    const sameLength = givenBuf.length === expectedBuf.length;
    const match = timingSafeEqual(expectedBuf, sameLength ? givenBuf : expectedBuf) && sameLength;
    if (!match || storedHa1 === undefined) {
      this.countWrongAnswer(creds.nonce, issuedAt);
      return fail('bad-response');
    }

    const now = this.now();
    if (now - issuedAt > this.lifetimeMs) return fail('stale-nonce', true);

    if (!this.recordNonceCount(creds.nonce, issuedAt, parseInt(creds.nc, 16), now)) {
      // The digest is right, so the sender knew the password (or is replaying one who did):
      // stale=true lets a legitimate client retry at once with a new nonce.
      return fail('nonce-replay', true);
    }
    return { ok: true, username: creds.username, algorithm };
  }

  /** Number of nonces whose nonce-count is currently tracked (for metrics/tests). */
  trackedNonceCount(): number {
    return this.nonceUses.size;
  }

  /**
   * Sizes of the nonce-state tables (nonce-counts, wrong answers per nonce) and how many fresh
   * entries the bound evicted. An evicted nonce-count makes its nonce read as stale (the client
   * re-challenges at once), an evicted wrong-answer count gives a guesser back at most
   * `maxWrongAnswersPerNonce` tries — so a full table degrades to extra round trips, never memory.
   */
  nonceTableStats(): { nonceCounts: number; wrongAnswers: number; evictions: number } {
    return { nonceCounts: this.nonceUses.size, wrongAnswers: this.wrongAnswers.size, evictions: this.evictions };
  }

  private mac(body: Buffer, realm: string): Buffer {
    return createHmac('sha256', this.secret).update(body).update('\0').update(realm, 'utf8').digest().subarray(0, NONCE_MAC_BYTES);
  }

  /** Issue time of a genuine nonce for `realm`, else undefined. */
  private checkNonce(nonce: string, realm: string): number | undefined {
    if (nonce.length > 64 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== NONCE_BYTES) return undefined;
    const body = raw.subarray(0, NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    const mac = raw.subarray(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    if (!timingSafeEqual(mac, this.mac(body, realm))) return undefined;
    // base64url decoding is lenient; insist on the canonical text so a nonce has one spelling
    // (the replay map is keyed by text).
    if (raw.toString('base64url') !== nonce) return undefined;
    const issuedAt = Number(body.readBigUInt64BE(0));
    if (issuedAt > this.now() + FUTURE_SLACK_MS) return undefined;
    return issuedAt;
  }

  /** False when `nc` is not above the highest already accepted for this nonce. */
  private recordNonceCount(nonce: string, issuedAt: number, nc: number, now: number): boolean {
    this.pruneExpired(now);
    const use = this.nonceUses.get(nonce);
    if (use) {
      if (nc <= use.highestNc) return false;
      use.highestNc = nc;
      return true;
    }
    // Forgotten for lack of space while fresh: cannot tell a replay apart, so refuse.
    if (issuedAt <= this.evictedWatermark) return false;
    if (nc < 1) return false;
    while (this.nonceUses.size >= this.maxTracked) {
      const oldest = this.nonceUses.entries().next().value;
      if (!oldest) break;
      this.nonceUses.delete(oldest[0]);
      this.evictions++;
      this.evictedWatermark = Math.max(this.evictedWatermark, oldest[1].issuedAt);
    }
    this.nonceUses.set(nonce, { highestNc: nc, issuedAt });
    return true;
  }

  private countWrongAnswer(nonce: string, issuedAt: number): void {
    const now = this.now();
    for (const [n, use] of this.wrongAnswers) {
      if (now - use.issuedAt <= this.lifetimeMs) break;
      this.wrongAnswers.delete(n);
    }
    const seen = this.wrongAnswers.get(nonce);
    if (seen) {
      seen.highestNc++;
      return;
    }
    // Losing a count only gives a guesser back up to maxWrongAnswers tries on one nonce.
    if (this.wrongAnswers.size >= this.maxTracked) {
      const oldest = this.wrongAnswers.keys().next().value;
      if (oldest !== undefined) this.wrongAnswers.delete(oldest);
      this.evictions++;
    }
    this.wrongAnswers.set(nonce, { highestNc: 1, issuedAt });
  }

  private pruneExpired(now: number): void {
    // Expired nonces are refused as stale before their count matters, so they can go.
    for (const [nonce, use] of this.nonceUses) {
      if (now - use.issuedAt <= this.lifetimeMs) break;
      this.nonceUses.delete(nonce);
    }
  }
}

function toCredentials(p: Record<string, string>): Omit<DigestCredentials, 'algorithm'> {
  return {
    username: p.username,
    realm: p.realm,
    nonce: p.nonce,
    uri: p.uri,
    response: p.response,
    qop: p.qop,
    nc: p.nc,
    cnonce: p.cnonce,
    opaque: p.opaque,
  };
}

function fail(reason: DigestFailureReason, stale = false): DigestVerifyResult {
  return { ok: false, reason, stale };
}
