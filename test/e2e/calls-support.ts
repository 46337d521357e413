import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import type { WebRole } from '../../db/index.ts';
import { compileDialplan } from '../../sandbox/index.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import type { SequencedEvent as TypedEvent } from '../../server/events/index.ts';

/** A recorded bus event, readable by field name in assertions (tests only; the bus itself is typed). */
export type SequencedEvent = TypedEvent & Record<string, unknown>;
import { REPO_ROOT, runSipp, stopChild, waitForExit } from './harness/index.ts';

export const SCENARIOS = join(REPO_ROOT, 'test', 'e2e', 'scenarios');
export const DOMAIN = 'acme.test';
export const PASSWORD = 's3cret';

/** The real server in-process (SQLite in a temp dir, SIP on an ephemeral UDP port), with one tenant and its accounts. */
export interface Switch {
  running: RunningServer;
  tenantId: number;
  /** `127.0.0.1:<sip port>` */
  target: string;
  events: SequencedEvent[];
  /** Saves `source` as a new dialplan (unique name) and makes it the outgoing dialplan of `user`. */
  useOutDialplan(user: string, source: string): Promise<string>;
  /** Saves `source` as the tenant's dialplan `name` (e.g. `transfer`). */
  useNamedDialplan(name: string, source: string): Promise<void>;
  /** Sets (or clears) the incoming dialplan of `user`. */
  useInDialplan(user: string, source: string | null): Promise<void>;
  /** Waits until `count` CDRs exist (newest first). */
  waitForCdrs(count: number, timeoutMs?: number): ReturnType<RunningServer['db']['cdrs']['list']>;
  /** Waits for the CDR of one Patchbay call (CDRs reach the database through the write journal, a flush later). */
  waitForCdr(callId: string, timeoutMs?: number): Promise<Awaited<ReturnType<RunningServer['db']['cdrs']['list']>>[number]>;
  waitForEvent(predicate: (e: SequencedEvent) => boolean, timeoutMs?: number): Promise<SequencedEvent>;
  close(): Promise<void>;
}

let dialplanCounter = 0;

export async function startSwitch(users: string[], env: Record<string, string> = {}, serverOptions: Parameters<typeof startServer>[1] = {}): Promise<Switch> {
  const dataDir = await mkdtemp(join(tmpdir(), 'patchbay-calls-e2e-'));
  const config = loadConfig({
    env: {
      PATCHBAY_DATA_DIR: dataDir,
      PATCHBAY_SIP_LISTEN: 'udp:127.0.0.1:0',
      PATCHBAY_HTTP_LISTEN: '127.0.0.1:0',
      PATCHBAY_LOG_LEVEL: process.env['CALLS_E2E_LOG'] ?? 'silent',
      PATCHBAY_KEEPALIVE_INTERVAL: '0',
      // The sipp peers of these tests listen on loopback; a switch without it refuses such legs.
      PATCHBAY_ALLOWED_LEG_NETWORKS: '127.0.0.0/8',
      ...env,
    },
  });
  const running = await startServer(config, serverOptions);
  const events: SequencedEvent[] = [];
  const waiters = new Set<() => void>();
  running.events.subscribe({}, (e) => {
    events.push(e as SequencedEvent);
    for (const w of [...waiters]) w();
  });
  const db = running.db;
  const tenant = await db.tenants.add({ domain: DOMAIN });
  for (const username of users) await db.accounts.add({ username, domain: DOMAIN, password: PASSWORD });
  running.sip.directory.invalidate();
  const udp = running.sipListening.find((l) => l.transport === 'udp');
  if (!udp) throw new Error('no UDP listener');

  const saveDialplan = async (source: string, name = `plan${++dialplanCounter}`): Promise<string> => {
    const compiled = await compileDialplan(source, 'ts');
    if (!compiled.ok) throw new Error(`dialplan does not compile: ${JSON.stringify(compiled.errors)}`);
    await db.dialplans.save({ tenantId: tenant.id, name, language: 'ts', source, compiledJs: compiled.js, sourceMap: compiled.sourceMap });
    return name;
  };

  const waitForEvent = (predicate: (e: SequencedEvent) => boolean, timeoutMs = 15_000): Promise<SequencedEvent> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = events.find(predicate);
        if (!hit) return false;
        waiters.delete(onEvent);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const onEvent = (): void => void check();
      const timer = setTimeout(() => {
        waiters.delete(onEvent);
        reject(new Error(`event not seen in ${timeoutMs} ms; saw ${events.map((e) => e.type).join(', ')}`));
      }, timeoutMs);
      if (!check()) waiters.add(onEvent);
    });

  return {
    running,
    tenantId: tenant.id,
    target: `127.0.0.1:${udp.port}`,
    events,
    async useOutDialplan(user, source) {
      const name = await saveDialplan(source);
      await db.accounts.update(user, DOMAIN, { outDialplan: name });
      running.sip.directory.invalidate();
      return name;
    },
    async useNamedDialplan(name, source) {
      await saveDialplan(source, name);
    },
    async useInDialplan(user, source) {
      const name = source === null ? null : await saveDialplan(source);
      await db.accounts.update(user, DOMAIN, { inDialplan: name });
      running.sip.directory.invalidate();
    },
    async waitForCdrs(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await db.cdrs.list({ tenantId: tenant.id });
        if (rows.length >= count || Date.now() > deadline) return rows;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async waitForCdr(callId, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const row = (await db.cdrs.list({ tenantId: tenant.id, limit: 1000 })).find((c) => c.callId === callId);
        if (row) return row;
        if (Date.now() > deadline) throw new Error(`no CDR for call ${callId} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    waitForEvent,
    async close() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SippProcess {
  port: number;
  pid: number | undefined;
  /** Exit code, the tail of the output, and the lines of the scenario's `<log>` actions. */
  done: Promise<{ code: number; output: string; logs: string }>;
  /** Waits (bounded) until a line of the scenario's `<log>` output so far matches `pattern`; returns the match. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export interface SippStartOptions {
  /** `host:port` to send to (UAC); omit for a UAS. */
  remote?: string;
  service?: string;
  /** Caller credentials, for the e2e-uac-auth-* scenarios. */
  user?: string;
  password?: string;
  domain?: string;
  calls?: number;
  /** Calls started per second (sipp -r); sipp's default is 10. */
  rate?: number;
  /** Call-ID format (sipp -cid_str; `%u` call number, `%p` pid, `%s` address). */
  callIdFormat?: string;
  /** Local port; default a free one. */
  port?: number;
  /** `-key name value` pairs: `[name]` in the scenario. */
  keys?: Record<string, string>;
  /** Digest uri (`user@host`) when the Request-URI is not `service@domain`. */
  authUri?: string;
  timeoutSeconds?: number;
}

/** One sipp in the background, bounded by its own `-timeout`, with a free SIP and media port. */
export async function startSipp(scenario: string, opts: SippStartOptions = {}): Promise<SippProcess> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-calls-sipp-'));
  const port = opts.port ?? (await freeUdpPort());
  const mediaPort = await freeMediaPorts();
  const injection = join(workDir, 'account.csv');
  const user = opts.user ?? '1001';
  const domain = opts.domain ?? DOMAIN;
  await writeFile(
    injection,
    `SEQUENTIAL\n${user};${domain};[authentication username=${user} password=${opts.password ?? PASSWORD}]\n`,
  );
  const args = [
    '-sf', join(SCENARIOS, scenario), '-m', String(opts.calls ?? 1),
    '-timeout', `${opts.timeoutSeconds ?? 25}s`, '-timeout_error', '-nostdin',
    '-i', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort),
    '-inf', injection, '-trace_logs', '-trace_err', '-trace_msg',
  ];
  // sipp's default digest uri is the remote address; the server wants the Request-URI (RFC 2617 3.2.2.5).
  if (opts.service) args.push('-s', opts.service, '-auth_uri', opts.authUri ?? `${opts.service}@${domain}`);
  for (const [name, value] of Object.entries(opts.keys ?? {})) args.push('-key', name, value);
  if (opts.rate) args.push('-r', String(opts.rate));
  if (opts.callIdFormat) args.push('-cid_str', opts.callIdFormat);
  if (opts.remote) args.push(opts.remote);
  const child = spawn('sipp', args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  child.stderr.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  const done = (async () => {
    const code = await Promise.race([
      waitForExit(child),
      new Promise<number>((resolve) => child.once('error', () => resolve(127))),
    ]);
    let logs = '';
    let errors = '';
    for (const name of await readdir(workDir).catch(() => [] as string[])) {
      if (name.endsWith('_logs.log')) logs += await readFile(join(workDir, name), 'utf8');
      if (name.endsWith('_errors.log') || name.endsWith('_messages.log')) errors += await readFile(join(workDir, name), 'utf8');
    }
    await rm(workDir, { recursive: true, force: true });
    return { code, output: `${output}\n--- errors:\n${errors.slice(-3000)}\n--- logs:\n${logs}`, logs };
  })();
  if (!opts.remote) {
    // A UAS must be listening before anything is sent to it.
    for (let i = 0; i < 200 && !(await udpPortInUse(port)); i++) await new Promise((r) => setTimeout(r, 20));
  }
  let exited = false;
  void done.then(() => { exited = true; });
  return {
    port,
    pid: child.pid,
    done,
    async waitForLog(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!exited && Date.now() < deadline) {
        for (const name of await readdir(workDir).catch(() => [] as string[])) {
          if (!name.endsWith('_logs.log')) continue;
          const m = (await readFile(join(workDir, name), 'utf8').catch(() => '')).match(pattern);
          if (m) return m;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`sipp never logged ${pattern}: ${exited ? (await done).output : 'timed out'}`);
    },
    async stop() {
      await stopChild(child, 2000);
      await done;
    },
  };
}

/**
 * A UDP port for a sipp (or a socket of a test) to bind a moment later. Taken below Linux's
 * ephemeral range (32768+), where the kernel never hands a port to a socket bound to 0: a port
 * from bind(0) could be given to another process's socket before sipp binds it (seen in CI as
 * "Unable to bind main socket, errno = 98"), most of all for a port a test keeps for many calls.
 * Signalling ports are 22000–32767; media blocks (freeMediaPorts) 10000–21999.
 */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const port = 22_000 + Math.floor(Math.random() * 10_768);
    if (!(await udpPortInUse(port))) return port;
  }
}

/**
 * A base for sipp's `-mp`: sipp binds it and the next three (audio RTP/RTCP, video RTP/RTCP), so
 * the block is taken below the ephemeral range and below the signalling ports of freeUdpPort.
 */
async function freeMediaPorts(): Promise<number> {
  for (;;) {
    const base = 10_000 + 2 * Math.floor(Math.random() * 5_999);
    const taken = await Promise.all([0, 1, 2, 3].map((i) => udpPortInUse(base + i)));
    if (!taken.includes(true)) return base;
  }
}

function udpPortInUse(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(true));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/** The switch of a test file and a way to start sipps that are stopped (by PID) after each test, so nothing outlives a test. */
export interface SwitchFixture {
  /** Forwards to the switch started in beforeAll: use it inside tests only. */
  sw: Switch;
  sipp(scenario: string, opts?: SippStartOptions): Promise<SippProcess>;
}

/** Registers beforeAll/afterAll/afterEach: one switch with `users` (and `env` over startSwitch's) for the file, every sipp of a test stopped after it. */
export function useSwitch(users: string[], env: Record<string, string> = {}, serverOptions: Parameters<typeof startServer>[1] = {}): SwitchFixture {
  let current: Switch | undefined;
  const started: SippProcess[] = [];
  const live = (): Switch => {
    if (!current) throw new Error('the switch is not started (use it inside a test)');
    return current;
  };
  beforeAll(async () => {
    current = await startSwitch(users, env, serverOptions);
  }, 60_000);
  afterAll(async () => {
    await current?.close();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });
  const sw: Switch = {
    get running() { return live().running; },
    get tenantId() { return live().tenantId; },
    get target() { return live().target; },
    get events() { return live().events; },
    useOutDialplan: (user, source) => live().useOutDialplan(user, source),
    useInDialplan: (user, source) => live().useInDialplan(user, source),
    useNamedDialplan: (name, source) => live().useNamedDialplan(name, source),
    waitForCdrs: (count, timeoutMs) => live().waitForCdrs(count, timeoutMs),
    waitForCdr: (callId, timeoutMs) => live().waitForCdr(callId, timeoutMs),
    waitForEvent: (predicate, timeoutMs) => live().waitForEvent(predicate, timeoutMs),
    close: () => live().close(),
  };
  const sipp = async (scenario: string, opts: SippStartOptions = {}): Promise<SippProcess> => {
    const p = await startSipp(scenario, opts);
    started.push(p);
    return p;
  };
  return { sw, sipp };
}

/** Every sipp exited 0; the failure message is all their output. */
export async function expectSippOk(...runs: SippProcess[]): Promise<Array<{ code: number; output: string; logs: string }>> {
  const results = await Promise.all(runs.map((r) => r.done));
  expect(results.map((r) => r.code), results.map((r) => r.output).join('\n=========\n')).toEqual(results.map(() => 0));
  return results;
}

/**
 * Registers `user`'s phone at 127.0.0.1:`port` with a real sipp REGISTER (digest; `scenario`
 * default register-digest.xml), so a sipp UAS on that port rings for it.
 */
export async function registerPhone(
  sw: Switch, user: string, port: number, opts: { domain?: string; password?: string; scenario?: string } = {},
): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-calls-reg-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${user};${opts.domain ?? DOMAIN};[authentication username=${user} password=${opts.password ?? PASSWORD}]\n`);
    const reg = await runSipp({
      scenario: join(SCENARIOS, opts.scenario ?? 'register-digest.xml'), target: sw.target, localPort: port, timeoutMs: 15_000, args: ['-m', '1', '-inf', injection],
    });
    expect(reg.code, reg.stderr + reg.errors).toBe(0);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Index in `sw.events` of the first `extension.state` of `user` (this tenant) showing `state` at
 * or after index `from`, once there is one: lamps are compared by their place in the event order.
 */
export async function waitForLamp(sw: Switch, user: string, state: string, from: number, timeoutMs = 10_000): Promise<number> {
  const hit = await sw.waitForEvent(
    (e) => e.type === 'extension.state' && e.tenantId === sw.tenantId && e['user'] === user && e['state'] === state && sw.events.indexOf(e) >= from,
    timeoutMs,
  );
  return sw.events.indexOf(hit);
}

/** Index in `sw.events` of the call's `call.ended`; Infinity while the call goes on. */
export function endedAt(sw: Switch, callId: string): number {
  const i = sw.events.findIndex((e) => e.type === 'call.ended' && e['callId'] === callId);
  return i < 0 ? Infinity : i;
}

/** Sets `user`'s maxCalls (null: no limit) and makes the switch see it at once. */
export async function setMaxCalls(sw: Switch, user: string, maxCalls: number | null, domain = DOMAIN): Promise<void> {
  await sw.running.db.accounts.update(user, domain, { maxCalls });
  sw.running.sip.directory.invalidate();
}

/** Another tenant on the switch: `users` (password PASSWORD), and `out.user` calling out through the dialplan `out.source` if given; returns its id. */
export async function addTenant(sw: Switch, domain: string, users: string[], out?: { user: string; source: string }): Promise<number> {
  const db = sw.running.db;
  const tenant = await db.tenants.add({ domain });
  for (const username of users) await db.accounts.add({ username, domain, password: PASSWORD });
  if (out) {
    const compiled = await compileDialplan(out.source, 'ts');
    if (!compiled.ok) throw new Error(`dialplan does not compile: ${JSON.stringify(compiled.errors)}`);
    await db.dialplans.save({ tenantId: tenant.id, name: 'out', language: 'ts', source: out.source, compiledJs: compiled.js, sourceMap: compiled.sourceMap });
    await db.accounts.update(out.user, domain, { outDialplan: 'out' });
  }
  sw.running.sip.directory.invalidate();
  return tenant.id;
}

/**
 * Starts a caller (a sipp UAC) and waits for the first call answered after it started: the
 * caller, that call's id, and `before`, the index in `sw.events` it started at (for lamps).
 */
export async function answeredCall(sw: Switch, start: () => Promise<SippProcess>): Promise<{ caller: SippProcess; callId: string; before: number }> {
  const before = sw.events.length;
  const caller = await start();
  const answered = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
  return { caller, callId: String(answered['callId']), before };
}

/**
 * REST as web users of the switch: `tokenFor` adds a user with an API token (an operator has no
 * tenant: `null`), `api` sends one request with it (none: no Authorization header; JSON body when given).
 */
export function restApi(sw: Switch): {
  tokenFor(email: string, tenantId: number | null, role?: WebRole): Promise<string>;
  api(token: string | undefined, method: string, path: string, body?: unknown): Promise<Response>;
} {
  return {
    async tokenFor(email, tenantId, role = 'receptionist') {
      const user = await sw.running.db.users.add({ email, password: 'a-long-web-password', role, tenantId });
      return (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    },
    api(token, method, path, body) {
      const { host, port } = sw.running.httpAddress;
      const headers: Record<string, string> = {};
      if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      return fetch(`http://${host}:${port}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    },
  };
}
