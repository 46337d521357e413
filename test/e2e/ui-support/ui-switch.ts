import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URI, type TOTP } from 'otpauth';
import { compileDialplan } from '../../../sandbox/index.ts';
import type { WebRole } from '../../../db/index.ts';
import { DOMAIN, freeUdpPort, SCENARIOS, startSwitch, type Switch } from '../calls-support.ts';
import { runSipp } from '../harness/index.ts';

/** Another tenant, for the "never shows another tenant's data" checks. */
export const OTHER_DOMAIN = 'other.test';

/**
 * The real switch in-process for the browser tests: SQLite in a temp dir, the REST API and the
 * built UI (web/ui/dist) on an ephemeral HTTP port, SIP on an ephemeral UDP port; tenant
 * `acme.test` with its accounts, and `other.test` beside it. One per test file, so files run in
 * parallel without sharing anything.
 */
export interface UiSwitch {
  sw: Switch;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  otherTenantId: number;
  addUser(email: string, password: string, role: WebRole, tenantId?: number): Promise<number>;
  /** Saves a version through the repository (as `patchbay dialplan set` would), after the real compiler. */
  seedDialplan(name: string, source: string, opts?: { tenantId?: number; message?: string; author?: string; language?: 'ts' | 'js' }): Promise<void>;
  /** Turns TOTP on for a user through the API (enrol, confirm with a real code); answers the generator and recovery codes. */
  enrolTotp(email: string, password: string): Promise<{ totp: TOTP; recoveryCodes: string[] }>;
  /** Ends every browser session of a user server-side (as an idle timeout or a revoke elsewhere would). */
  revokeSessions(email: string): Promise<void>;
  close(): Promise<void>;
}

export async function startUiSwitch(accounts: string[] = []): Promise<UiSwitch> {
  const sw = await startSwitch(accounts);
  const db = sw.running.db;
  const { host, port } = sw.running.httpAddress;
  const origin = `http://${host}:${port}`;
  const other = await db.tenants.add({ domain: OTHER_DOMAIN });

  const json = async (path: string, init: { cookie?: string; csrf?: string; body?: unknown }): Promise<{ status: number; body: Record<string, unknown>; cookie: string | undefined }> => {
    const res = await fetch(`${origin}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(init.cookie && { cookie: init.cookie }), ...(init.csrf && { 'x-csrf-token': init.csrf }) },
      body: JSON.stringify(init.body ?? {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, cookie: res.headers.get('set-cookie')?.split(';')[0] };
  };

  return {
    sw,
    origin,
    otherTenantId: other.id,
    async addUser(email, password, role, tenantId = sw.tenantId) {
      return (await db.users.add({ email, password, role, tenantId })).id;
    },
    async seedDialplan(name, source, opts = {}) {
      const language = opts.language ?? 'ts';
      const compiled = await compileDialplan(source, language);
      if (!compiled.ok) throw new Error(`seed dialplan ${name} does not compile: ${JSON.stringify(compiled.errors)}`);
      await db.dialplans.save({
        tenantId: opts.tenantId ?? sw.tenantId, name, language, source, compiledJs: compiled.js, sourceMap: compiled.sourceMap,
        author: opts.author ?? 'seed@acme.test', message: opts.message ?? null,
      });
    },
    async enrolTotp(email, password) {
      const login = await json('/auth/login', { body: { email, password } });
      if (login.status !== 200 || !login.cookie) throw new Error(`login of ${email}: ${login.status} ${JSON.stringify(login.body)}`);
      const auth = { cookie: login.cookie, csrf: String(login.body['csrfToken']) };
      const enrol = await json('/auth/2fa/enrol', auth);
      if (enrol.status !== 200) throw new Error(`2fa enrol: ${enrol.status} ${JSON.stringify(enrol.body)}`);
      const totp = URI.parse(String(enrol.body['otpauthUri'])) as TOTP;
      const confirm = await json('/auth/2fa/confirm', { ...auth, body: { code: totp.generate() } });
      if (confirm.status !== 200) throw new Error(`2fa confirm: ${confirm.status} ${JSON.stringify(confirm.body)}`);
      await json('/auth/logout', auth);
      return { totp, recoveryCodes: confirm.body['recoveryCodes'] as string[] };
    },
    async revokeSessions(email) {
      const user = await db.users.findByEmail(email);
      if (!user) throw new Error(`no user ${email}`);
      await db.sessions.revokeAllOfUser(user.id);
    },
    close: () => sw.close(),
  };
}

export { DOMAIN };

/** One real sipp REGISTER (digest) of `user` from its own UDP port; answers that port. */
export async function sippRegister(target: string, user: string, password: string): Promise<number> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-ui-reg-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${user};${DOMAIN};[authentication username=${user} password=${password}]\n`);
    const localPort = await freeUdpPort();
    const r = await runSipp({ scenario: join(SCENARIOS, 'register-digest.xml'), target, localPort, timeoutMs: 10_000, args: ['-m', '1', '-inf', injection] });
    if (r.code !== 0) throw new Error(`sipp REGISTER of ${user} failed (${r.code}): ${r.stderr}${r.errors}`);
    return localPort;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
