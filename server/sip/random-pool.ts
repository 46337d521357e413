import { randomFillSync } from 'node:crypto';

/** 8 KiB: ~400 branches or tags per refill; one randomFillSync costs about as much as one randomBytes call. */
const DEFAULT_POOL_BYTES = 8192;

/**
 * Cryptographically random bytes handed out from a buffer filled by `randomFillSync`, refilled
 * when spent. `crypto.randomBytes` per tag, branch, Call-ID and nonce cost ~3 µs each (3–4% CPU
 * under load), most of it per-call overhead rather than entropy. Every byte is handed out once,
 * so tokens stay independent and unguessable (RFC 3261 §8.1.1.7, §19.3).
 */
export class RandomPool {
  private readonly pool: Buffer;
  private offset: number;

  constructor(poolBytes = DEFAULT_POOL_BYTES) {
    this.pool = Buffer.allocUnsafe(poolBytes);
    this.offset = poolBytes; // filled on first use
  }

  /** `bytes` random bytes as base64url (no padding). */
  token(bytes: number): string {
    if (bytes > this.pool.length) return randomFillSync(Buffer.allocUnsafe(bytes)).toString('base64url');
    const start = this.take(bytes);
    return this.pool.toString('base64url', start, start + bytes);
  }

  /** Fills `target[start, start + length)` with random bytes. */
  fill(target: Buffer, start = 0, length = target.length - start): void {
    if (length > this.pool.length) {
      randomFillSync(target, start, length);
      return;
    }
    const from = this.take(length);
    this.pool.copy(target, start, from, from + length);
  }

  /** Reserves `n` unused bytes and returns where they start. */
  private take(n: number): number {
    if (this.offset + n > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += n;
    return start;
  }
}

/** The process-wide pool behind SIP tokens and digest nonces. */
export const sharedRandomPool = new RandomPool();
