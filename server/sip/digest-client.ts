import { randomBytes } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader, type AuthParamOut } from './digest-header.ts';
import { computeDigestResponse, computeHa1, parseDigestAlgorithm, type DigestAlgorithm } from './digest-hash.ts';

/**
 * Client side of SIP digest authentication (RFC 3261 §22.2/§22.3, RFC 7616, RFC 8760): answers
 * a provider's 401/407. Prefers SHA-256 over MD5 and `qop=auth` over the RFC 2069 form, which
 * it still speaks because old carrier equipment only offers that.
 */

export interface DigestClientOptions {
  username: string;
  password: string;
  /** cnonce generator (tests fix it). */
  cnonce?: () => string;
}

/** Structural view of a 401/407 response, so this file needs nothing but headers. */
export interface ChallengeResponse {
  status: number;
  headers: { entries(): Array<[name: string, value: string]> };
}

export interface DigestAuthorization {
  /** `Authorization` for a 401, `Proxy-Authorization` for a 407. */
  headerName: 'Authorization' | 'Proxy-Authorization';
  headerValue: string;
  realm: string;
  algorithm: DigestAlgorithm;
}

interface ParsedChallenge {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  qopAuth: boolean;
  opaque?: string;
  stale: boolean;
}

const ALGORITHM_PREFERENCE: DigestAlgorithm[] = ['SHA-256', 'MD5'];

export class DigestClient {
  private readonly username: string;
  private readonly password: string;
  private readonly makeCnonce: () => string;
  /** Nonce-count per nonce, so re-using a nonce on the next request counts up (RFC 7616 §3.4). */
  private readonly nonceCounts = new Map<string, number>();

  constructor(opts: DigestClientOptions) {
    this.username = opts.username;
    this.password = opts.password;
    this.makeCnonce = opts.cnonce ?? (() => randomBytes(12).toString('hex'));
  }

  /**
   * Builds the credentials header answering `response` (401 or 407) for a request with
   * `method` and Request-URI `uri`. Undefined when no challenge can be answered (no Digest
   * challenge, only unsupported algorithms or qop).
   */
  authorize(response: ChallengeResponse, request: { method: string; uri: string }): DigestAuthorization | undefined {
    const challengeHeader = response.status === 407 ? 'proxy-authenticate' : 'www-authenticate';
    const values = response.headers
      .entries()
      .filter(([name]) => name.toLowerCase() === challengeHeader)
      .map(([, value]) => value);
    const answer = this.answer(values, request);
    if (!answer) return undefined;
    return { ...answer, headerName: response.status === 407 ? 'Proxy-Authorization' : 'Authorization' };
  }

  /** Same as {@link authorize} from the raw challenge header values. */
  answer(
    challengeValues: string[],
    request: { method: string; uri: string },
  ): { headerValue: string; realm: string; algorithm: DigestAlgorithm } | undefined {
    const challenge = pickChallenge(challengeValues);
    if (!challenge) return undefined;
    const ha1 = computeHa1(challenge.algorithm, this.username, challenge.realm, this.password);
    const params: AuthParamOut[] = [
      { name: 'username', value: this.username, quoted: true },
      { name: 'realm', value: challenge.realm, quoted: true },
      { name: 'nonce', value: challenge.nonce, quoted: true },
      { name: 'uri', value: request.uri, quoted: true },
    ];
    let response: string;
    if (challenge.qopAuth) {
      const count = (this.nonceCounts.get(challenge.nonce) ?? 0) + 1;
      this.rememberCount(challenge.nonce, count);
      const nc = count.toString(16).padStart(8, '0');
      const cnonce = this.makeCnonce();
      response = computeDigestResponse({
        algorithm: challenge.algorithm, ha1, nonce: challenge.nonce, method: request.method, uri: request.uri,
        qop: 'auth', nc, cnonce,
      });
      params.push(
        { name: 'response', value: response, quoted: true },
        { name: 'algorithm', value: challenge.algorithm, quoted: false },
        { name: 'cnonce', value: cnonce, quoted: true },
        { name: 'qop', value: 'auth', quoted: false },
        { name: 'nc', value: nc, quoted: false },
      );
    } else {
      response = computeDigestResponse({
        algorithm: challenge.algorithm, ha1, nonce: challenge.nonce, method: request.method, uri: request.uri,
      });
      params.push(
        { name: 'response', value: response, quoted: true },
        { name: 'algorithm', value: challenge.algorithm, quoted: false },
      );
    }
    if (challenge.opaque !== undefined) params.push({ name: 'opaque', value: challenge.opaque, quoted: true });
    return { headerValue: formatAuthHeader('Digest', params), realm: challenge.realm, algorithm: challenge.algorithm };
  }

  private rememberCount(nonce: string, count: number): void {
    this.nonceCounts.delete(nonce);
    this.nonceCounts.set(nonce, count);
    // A registration agent sees a new nonce every few minutes; keep only the recent ones.
    if (this.nonceCounts.size > 32) {
      const oldest = this.nonceCounts.keys().next().value;
      if (oldest !== undefined) this.nonceCounts.delete(oldest);
    }
  }
}

function pickChallenge(values: string[]): ParsedChallenge | undefined {
  const candidates: ParsedChallenge[] = [];
  for (const value of values) {
    for (const item of parseAuthHeader(value) ?? []) {
      if (item.scheme.toLowerCase() !== 'digest') continue;
      const p = item.params;
      if (p.realm === undefined || !p.nonce) continue;
      const algorithm = parseDigestAlgorithm(p.algorithm);
      if (!algorithm) continue;
      const qops = p.qop?.split(',').map((q) => q.trim().toLowerCase());
      // qop offered but without "auth" (e.g. only auth-int): cannot answer that one.
      if (qops && !qops.includes('auth')) continue;
      candidates.push({
        realm: p.realm, nonce: p.nonce, algorithm, qopAuth: qops !== undefined, opaque: p.opaque,
        stale: p.stale?.toLowerCase() === 'true',
      });
    }
  }
  candidates.sort((a, b) => ALGORITHM_PREFERENCE.indexOf(a.algorithm) - ALGORITHM_PREFERENCE.indexOf(b.algorithm));
  return candidates[0];
}
