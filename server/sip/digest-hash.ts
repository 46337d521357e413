import { createHash } from 'node:crypto';

/** Digest algorithms Patchbay speaks (RFC 7616 §3.2, RFC 8760). The `-sess` variants are not offered. */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(data, 'utf8').digest('hex');
}

/** HA1 = H(username ":" realm ":" password) — what accounts store instead of the password. */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** Maps an `algorithm=` value to ours; absent means MD5 (RFC 2617 §3.2.1). */
export function parseDigestAlgorithm(value: string | undefined): DigestAlgorithm | undefined {
  if (value === undefined) return 'MD5';
  const v = value.toUpperCase();
  if (v === 'MD5') return 'MD5';
  if (v === 'SHA-256') return 'SHA-256';
  return undefined;
}

/**
 * The request-digest (RFC 7616 §3.4.1). With `qop` present: H(HA1:nonce:nc:cnonce:qop:HA2);
 * without (RFC 2069 compatibility, client side only): H(HA1:nonce:HA2). HA2 = H(method:uri).
 */
export function computeDigestResponse(input: {
  algorithm: DigestAlgorithm;
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}): string {
  const ha2 = digestHash(input.algorithm, `${input.method}:${input.uri}`);
  if (input.qop) {
    return digestHash(input.algorithm, `${input.ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${input.qop}:${ha2}`);
  }
  return digestHash(input.algorithm, `${input.ha1}:${input.nonce}:${ha2}`);
}
