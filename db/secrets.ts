import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** Digest HA1 = H(username:realm:password) (RFC 2617 / RFC 7616). Stored instead of the password. */
export function digestHa1(algorithm: DigestAlgorithm, user: string, realm: string, password: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(`${user}:${realm}:${password}`, 'utf8')
    .digest('hex');
}

/**
 * OWASP's current scrypt advice (N=2^17, r=8, p=1). That needs 128·N·r = 128 MiB, above
 * Node's 32 MiB default `maxmem`, so the limit is raised per call. Stored hashes name their
 * own parameters: older ones (N=2^14) still verify and are rehashed at the next login.
 */
export const WEB_PASSWORD_SCRYPT: WebPasswordScrypt = { N: 2 ** 17, r: 8, p: 1, keyLen: 32 };

export interface WebPasswordScrypt {
  N: number;
  r: number;
  p: number;
  keyLen: number;
}
/** A stored hash asking for more than this is refused rather than allowed to exhaust memory. */
const MAX_SCRYPT_MEMORY = 512 * 1024 * 1024;

function scryptAsync(password: string, salt: Buffer, keyLen: number, opts: { N: number; r: number; p: number }): Promise<Buffer> {
  const maxmem = 128 * opts.N * opts.r * opts.p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLen, { ...opts, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Web-user password hash: `scrypt$N$r$p$salt$hash` (base64), self-describing so parameters can grow later. */
export async function hashWebPassword(password: string, P: WebPasswordScrypt = WEB_PASSWORD_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, P.keyLen, P);
  return `scrypt$${P.N}$${P.r}$${P.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function parseWebHash(stored: string): { N: number; r: number; p: number; salt: Buffer; expected: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || 128 * N * r * p > MAX_SCRYPT_MEMORY) return undefined;
  return { N, r, p, salt: Buffer.from(parts[4]!, 'base64'), expected: Buffer.from(parts[5]!, 'base64') };
}

export async function verifyWebPassword(password: string, stored: string): Promise<boolean> {
  const h = parseWebHash(stored);
  if (!h || h.expected.length === 0) return false;
  const key = await scryptAsync(password, h.salt, h.expected.length, h);
  return key.length === h.expected.length && timingSafeEqual(key, h.expected);
}

/** True when a stored hash was made with other parameters than today's (rehash it on the next good login). */
export function webPasswordNeedsRehash(stored: string, P: WebPasswordScrypt = WEB_PASSWORD_SCRYPT): boolean {
  const h = parseWebHash(stored);
  return !h || h.N !== P.N || h.r !== P.r || h.p !== P.p || h.expected.length !== P.keyLen;
}

const dummyHashes = new Map<number, Promise<string>>();
/**
 * Spends the same scrypt work as a real check and answers false: used for unknown or disabled
 * e-mails so the answer time does not tell whether an account exists.
 */
export async function burnWebPasswordCheck(password: string, P: WebPasswordScrypt = WEB_PASSWORD_SCRYPT): Promise<false> {
  let dummy = dummyHashes.get(P.N);
  if (!dummy) dummyHashes.set(P.N, (dummy = hashWebPassword(randomBytes(18).toString('base64'), P)));
  await verifyWebPassword(password, await dummy);
  return false;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * AES-256-GCM; output `v1:<iv>:<tag>:<ciphertext>` in base64 so a future key/format can be told apart.
 * `associatedData` binds the ciphertext to where it is stored: it is not in the output, and the
 * same value must be given to decrypt, so a ciphertext copied elsewhere does not open.
 */
export function encryptSecret(key: Buffer, plain: string, associatedData?: string): string {
  if (key.length !== 32) throw new Error('secret key must be 32 bytes');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${SEALED_PREFIX}${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
}

const SEALED_PREFIX = 'v1:';

/** True for the output of encryptSecret (an HA1 in clear is hex and never looks like this). */
export function isSealedSecret(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

export function decryptSecret(key: Buffer, sealed: string, associatedData?: string): string {
  const parts = sealed.split(':');
  if (parts.length !== 4 || parts[0] !== 'v1') throw new Error('unknown secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1]!, 'base64'));
  if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(Buffer.from(parts[2]!, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(parts[3]!, 'base64')), decipher.final()]).toString('utf8');
}
