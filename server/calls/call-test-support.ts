/** Fakes and sipp helpers shared by the call tests (not part of the module's public surface). */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Binding, BindingTarget, TenantRef } from '../registrar/index.ts';
import { createResponse, DigestServer, type SipStack } from '../sip/index.ts';
import { CallService } from './call-service.ts';
import type {
  CallAccount, CallAccountDirectory, CallServiceEvent, CdrSink, DialplanRunner, DialplanStore, KeyValueStore, LocationLookup, StoredDialplan,
} from './call-service-deps.ts';
import type { CdrRecord } from './records/index.ts';

export const TENANT: TenantRef = { id: 7, domain: 'example.com' };

/**
 * An INVITE with an SDP offer from a phone at `host:port`, as the call unit tests inject into a
 * MemoryTransport; `n` numbers its branch, From tag and Call-ID.
 */
export function rawInvite(o: { from: string; to: string; host: string; port: number; n?: number }): string {
  const n = o.n ?? 1;
  const body = `v=0\r\no=- 1 1 IN IP4 ${o.host}\r\ns=-\r\nc=IN IP4 ${o.host}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n`;
  return [
    `INVITE sip:${o.to} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.host}:${o.port};branch=z9hG4bKinv${n};rport`,
    `From: "Alice" <sip:${o.from}>;tag=atag${n}`,
    `To: <sip:${o.to}>`,
    `Call-ID: call${n}@${o.host}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@${o.host}:${o.port}>`,
    'Max-Forwards: 70',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

export function makeAccount(username: string, extra: Partial<CallAccount> = {}): CallAccount {
  return {
    id: Math.floor(Math.random() * 1e6), tenantId: TENANT.id, username, ha1Md5: '', ha1Sha256: '', disabled: false,
    natKeepAlive: false, allowedCidrs: [], incomingOnly: false, ...extra,
  };
}

export class FakeAccounts implements CallAccountDirectory {
  readonly accounts = new Map<string, CallAccount>();
  add(a: CallAccount): CallAccount {
    this.accounts.set(a.username, a);
    return a;
  }
  async tenantForDomain(domain: string): Promise<TenantRef | undefined> {
    return domain === TENANT.domain ? TENANT : undefined;
  }
  async find(user: string, domain: string): Promise<CallAccount | undefined> {
    return domain === TENANT.domain ? this.accounts.get(user) : undefined;
  }
}

export class FakeLocation implements LocationLookup {
  readonly bindings = new Map<string, BindingTarget[]>();
  addUdp(user: string, port: number, address = '127.0.0.1'): void {
    const contactUri = `sip:${user}@${address}:${port}`;
    const source = { transport: 'udp' as const, address, port };
    const binding: Binding = {
      id: `${user}-${port}`, accountId: 1, tenantId: TENANT.id, user, domain: TENANT.domain, contactUri, contactParams: {},
      expiresAt: Date.now() + 3_600_000, callId: 'reg', cseq: 1, source, path: [], registeredAt: Date.now(), updatedAt: Date.now(),
      natKeepAlive: false, keepAliveMethod: 'crlf',
    };
    const list = this.bindings.get(user) ?? [];
    list.push({ binding, target: source, requestUri: contactUri });
    this.bindings.set(user, list);
  }
  lookup(user: string, domain: string): BindingTarget[] {
    return domain === TENANT.domain ? (this.bindings.get(user) ?? []) : [];
  }
}

export class MemoryDialplans implements DialplanStore {
  readonly plans = new Map<string, StoredDialplan>();
  async get(tenantId: number, name: string): Promise<StoredDialplan | undefined> {
    return this.plans.get(`${tenantId}/${name}`);
  }
}

export class MemoryKv implements KeyValueStore {
  readonly data = new Map<string, string>();
  async read(t: number, k: string) { return this.data.get(`${t}/${k}`); }
  async write(t: number, k: string, v: string) { this.data.set(`${t}/${k}`, v); }
  async delete(t: number, k: string) { return this.data.delete(`${t}/${k}`); }
  async keys(t: number) { return [...this.data.keys()].filter((k) => k.startsWith(`${t}/`)).map((k) => k.slice(String(t).length + 1)); }
}

export class MemoryCdrs implements CdrSink {
  readonly rows: CdrRecord[] = [];
  private waiters: Array<() => void> = [];
  write(cdr: CdrRecord): void {
    this.rows.push(cdr);
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once `n` CDRs exist (bounded by the test timeout). */
  async waitFor(n: number): Promise<CdrRecord[]> {
    while (this.rows.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.rows;
  }
}

/** A CallService on a SipStack with in-memory fakes around it, for the harnesses of the call tests. */
export abstract class CallServiceFixture {
  stack!: SipStack;
  service!: CallService;
  accounts!: FakeAccounts;
  location!: FakeLocation;
  dialplans!: MemoryDialplans;
  cdrs!: MemoryCdrs;
  events!: CallServiceEvent[];

  /** Fresh fakes and a CallService on `stack` (what it does not take is answered 405), then starts the stack. */
  protected async serve(stack: SipStack, sandbox: DialplanRunner, logger: Logger): Promise<void> {
    this.stack = stack;
    this.accounts = new FakeAccounts();
    this.location = new FakeLocation();
    this.dialplans = new MemoryDialplans();
    this.cdrs = new MemoryCdrs();
    const events: CallServiceEvent[] = [];
    this.events = events;
    const service = new CallService({
      stack, location: this.location, accounts: this.accounts, digest: new DigestServer({ secret: 'k'.repeat(32) }),
      sandbox, dialplans: this.dialplans, kv: new MemoryKv(), cdrs: this.cdrs, emit: (e) => events.push(e), logger,
      // The sipp peers listen on loopback; without this the switch refuses legs to them.
      allowedLegNetworks: ['127.0.0.0/8'],
    });
    this.service = service;
    stack.onRequest = (req, tx) => {
      if (!service.handleRequest(req, tx) && tx) tx.respond(createResponse(req, 405));
    };
    await stack.start();
  }

  async stop(): Promise<void> {
    this.service.close();
    await this.stack.stop();
  }
}

export const SCENARIOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/e2e/scenarios');

/** A UDP port that was free a moment ago (bind port 0, read it, close). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function portInUse(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(true));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

export interface SippRun { port: number; done: Promise<{ code: number | null; output: string }>; pid?: number }

/** Starts sipp with a scenario of test/e2e/scenarios; `-m 1 -timeout 20s -timeout_error` so it cannot hang. */
export async function startSipp(scenario: string, opts: { remote?: string; service?: string } = {}): Promise<SippRun> {
  const port = await freeUdpPort();
  const mediaPort = await freeUdpPort();
  const args = ['-sf', path.join(SCENARIOS, scenario), '-m', '1', '-timeout', '20s', '-timeout_error', '-nostdin',
    '-i', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort)];
  if (opts.service) args.push('-s', opts.service);
  if (opts.remote) args.push(opts.remote);
  const child = spawn('sipp', args, { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  child.stderr.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.once('exit', (code) => resolve({ code, output }));
    child.once('error', (err) => resolve({ code: -1, output: String(err) }));
  });
  if (!opts.remote) {
    // A UAS must be listening before anything is sent to it.
    for (let i = 0; i < 100 && !(await portInUse(port)); i++) await new Promise((r) => setTimeout(r, 20));
  }
  return { port, done, pid: child.pid };
}
