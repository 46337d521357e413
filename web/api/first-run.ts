import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../../db/index.ts';

export const SETUP_TOKEN_FILE = 'setup-token';
const TOKEN = /^[A-Za-z0-9_-]{32,128}$/;

/**
 * The first-run setup of a switch with no web user: one random token, valid until used, printed
 * at start and kept in `<data dir>/setup-token` (mode 0600) so a restart prints the same link.
 * POST /api/v1/setup trades it once for the first operator; once any web user exists (made here
 * or by `patchbay user add`) the setup is closed and the file is removed.
 */
export class FirstRunSetup {
  private token: string | null = null;
  private readonly file: string | undefined;

  constructor(private readonly opts: { db: Database; dataDir?: string }) {
    this.file = opts.dataDir === undefined ? undefined : join(opts.dataDir, SETUP_TOKEN_FILE);
  }

  /** Opens the setup when there is no web user yet; answers the token to print (null: closed). */
  async prepare(): Promise<string | null> {
    if (!(await this.noUserYet())) {
      this.close();
      return null;
    }
    const kept = this.file && existsSync(this.file) ? readFileSync(this.file, 'utf8').trim() : '';
    this.token = TOKEN.test(kept) ? kept : randomBytes(32).toString('base64url');
    if (this.file && kept !== this.token) writeFileSync(this.file, `${this.token}\n`, { mode: 0o600 });
    if (this.file) chmodSync(this.file, 0o600); // whatever the umask or an older file said
    return this.token;
  }

  async isOpen(): Promise<boolean> {
    return this.token !== null && (await this.noUserYet());
  }

  /**
   * Claims the token: true once for the right one. Synchronous, so two requests racing with it
   * cannot both win; `release` gives it back when creating the user failed.
   */
  take(candidate: string): boolean {
    if (this.token === null) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return false;
    this.token = null;
    return true;
  }

  release(token: string): void {
    this.token = token;
  }

  /** Setup done (or a user made otherwise): the token is gone for good. */
  close(): void {
    this.token = null;
    if (this.file) rmSync(this.file, { force: true });
  }

  private async noUserYet(): Promise<boolean> {
    return (await this.opts.db.users.listPage({ limit: 1 })).length === 0;
  }
}
