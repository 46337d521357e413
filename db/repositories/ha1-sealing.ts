import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../schema.ts';
import { decryptSecret, encryptSecret, isSealedSecret } from '../secrets.ts';

/**
 * HA1s are password-equivalent (anyone holding one can answer a digest challenge), so they are
 * stored encrypted under the secret key. The associated data names the row by tenant id and
 * user name, not by row id: the id is not known before the INSERT, and both never change for
 * an account (there is no rename). The column is part of it too, so neither a ciphertext moved
 * to another account nor MD5 and SHA-256 swapped within one decrypts.
 */
export type Ha1Column = 'ha1_md5' | 'ha1_sha256';

export interface Ha1RowKey {
  tenantId: number;
  username: string;
}

function associatedData(row: Ha1RowKey, column: Ha1Column): string {
  return `sip_accounts/${row.tenantId}/${row.username}/${column}`;
}

export function sealHa1(key: Buffer, row: Ha1RowKey, column: Ha1Column, ha1: string): string {
  return encryptSecret(key, ha1, associatedData(row, column));
}

export class Ha1UnreadableError extends Error {
  constructor(account: string, why: string) {
    super(`HA1 of SIP account ${account} cannot be read: ${why}`);
    this.name = 'Ha1UnreadableError';
  }
}

/** The clear HA1 of a stored value; throws Ha1UnreadableError when it is not what was sealed for this row. */
export function openHa1(key: Buffer, row: Ha1RowKey, column: Ha1Column, stored: string, account: string): string {
  if (!isSealedSecret(stored)) {
    // With a key configured every HA1 is sealed by migrate(); a clear one was written behind its
    // back and accepting it would let whoever can write the table pick an account's HA1.
    throw new Ha1UnreadableError(account, 'stored in clear; run `patchbay migrate` with the secret key to encrypt it');
  }
  try {
    return decryptSecret(key, stored, associatedData(row, column));
  } catch {
    throw new Ha1UnreadableError(account, 'it does not decrypt for this account (wrong secret key, or the row was tampered with)');
  }
}

/**
 * Encrypts every HA1 still stored in clear (rows of before migration 0003, or written by a
 * tool that opened the database without the key). Idempotent; returns the rows changed.
 */
export async function sealClearHa1s(db: Kysely<DatabaseSchema>, key: Buffer): Promise<number> {
  const rows = await db.selectFrom('sip_accounts').select(['id', 'tenant_id', 'username', 'ha1_md5', 'ha1_sha256']).execute();
  let changed = 0;
  for (const row of rows) {
    const md5Clear = !isSealedSecret(row.ha1_md5);
    const sha256Clear = !isSealedSecret(row.ha1_sha256);
    if (!md5Clear && !sha256Clear) continue;
    const rowKey = { tenantId: row.tenant_id, username: row.username };
    await db
      .updateTable('sip_accounts')
      .set({
        ...(md5Clear && { ha1_md5: sealHa1(key, rowKey, 'ha1_md5', row.ha1_md5) }),
        ...(sha256Clear && { ha1_sha256: sealHa1(key, rowKey, 'ha1_sha256', row.ha1_sha256) }),
      })
      // Only if still the value read, so a concurrent password change is never overwritten.
      .where('id', '=', row.id)
      .where('ha1_md5', '=', row.ha1_md5)
      .where('ha1_sha256', '=', row.ha1_sha256)
      .execute();
    changed++;
  }
  return changed;
}
