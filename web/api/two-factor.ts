import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

const ISSUER = 'Patchbay';

function totpFor(secretBase32: string, label: string): TOTP {
  return new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secretBase32) });
}

/** A new 160-bit TOTP secret (RFC 4226 §4 recommends 160 bits) and its otpauth:// URI and QR code. */
export async function newTotpEnrolment(label: string): Promise<{ secret: string; otpauthUri: string; qrCodeDataUrl: string }> {
  const secret = new Secret({ size: 20 }).base32;
  const otpauthUri = totpFor(secret, label).toString();
  // The QR encoder (and its PNG writer) loads at the first enrolment, not with every switch.
  const { default: QRCode } = await import('qrcode');
  return { secret, otpauthUri, qrCodeDataUrl: await QRCode.toDataURL(otpauthUri) };
}

/**
 * Checks RFC 6238 codes with one step of clock drift either way and refuses a code of a
 * time step already used by that user (a code seen over a shoulder cannot be replayed).
 */
export class TotpVerifier {
  private readonly lastStep = new Map<number, number>();

  constructor(private readonly now: () => number = Date.now) {}

  verify(userId: number, secretBase32: string, code: string): boolean {
    const timestamp = this.now();
    const delta = totpFor(secretBase32, 'x').validate({ token: code, timestamp, window: 1 });
    if (delta === null) return false;
    const step = Math.floor(timestamp / 30_000) + delta;
    if ((this.lastStep.get(userId) ?? -1) >= step) return false;
    this.lastStep.delete(userId);
    this.lastStep.set(userId, step);
    if (this.lastStep.size > 100_000) this.lastStep.delete(this.lastStep.keys().next().value!);
    return true;
  }
}

/** Ten one-time recovery codes, `xxxx-xxxx-xxxx` (60 bits each). */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: 10 }, () => {
    const hex = randomBytes(8).toString('hex').slice(0, 12);
    return `${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8, 12)}`;
  });
}

/** The current code for a secret (tests and the CLI). */
export function totpCode(secretBase32: string, timestamp = Date.now()): string {
  return totpFor(secretBase32, 'x').generate({ timestamp });
}
