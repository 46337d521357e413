/** Fakes shared by the registrar tests (not part of the module's public surface). */
import { DigestClient } from '../sip/index.ts';
import { computeHa1 } from '../sip/index.ts';
import { DigestServer } from '../sip/index.ts';
import { parseMessage } from '../sip/index.ts';
import { SipRequest, type Endpoint, type SipResponse } from '../sip/index.ts';
import type { AccountAuth, AccountDirectory, TenantRef } from './account-directory.ts';
import type { Binding, BindingChanges, BindingStore } from './binding.ts';
import { LocationService } from './location-service.ts';
import { Registrar, type RegistrarOptions } from './registrar.ts';
import type { RegistrationEvent } from './registration-event.ts';

export const TENANT: TenantRef = { id: 7, domain: 'example.com' };

export function makeAccount(username: string, password: string, extra: Partial<AccountAuth> = {}): AccountAuth {
  return {
    id: Math.floor(Math.random() * 1e6),
    tenantId: TENANT.id,
    username,
    ha1Md5: computeHa1('MD5', username, TENANT.domain, password),
    ha1Sha256: computeHa1('SHA-256', username, TENANT.domain, password),
    disabled: false,
    natKeepAlive: false,
    allowedCidrs: [],
    ...extra,
  };
}

export class FakeDirectory implements AccountDirectory {
  readonly accounts = new Map<string, AccountAuth>();
  readonly aliases = new Set(['alias.example.com']);

  add(account: AccountAuth): AccountAuth {
    this.accounts.set(account.username, account);
    return account;
  }

  async tenantForDomain(domain: string): Promise<TenantRef | undefined> {
    return domain === TENANT.domain || this.aliases.has(domain) ? TENANT : undefined;
  }

  async find(user: string, domain: string): Promise<AccountAuth | undefined> {
    return domain === TENANT.domain ? this.accounts.get(user) : undefined;
  }
}

export class MemoryBindingStore implements BindingStore {
  readonly rows = new Map<string, Binding>();
  readonly batches: BindingChanges[] = [];
  failNext = false;

  async loadAll(): Promise<Binding[]> {
    return [...this.rows.values()].map((b) => structuredClone(b));
  }

  async persist(changes: BindingChanges): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('database down');
    }
    this.batches.push(structuredClone(changes));
    for (const b of changes.upserts) this.rows.set(b.id, structuredClone(b));
    for (const id of changes.deletes) this.rows.delete(id);
  }
}

export function fakeClock(start = 1_800_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

export const UDP_SOURCE: Endpoint = { transport: 'udp', address: '203.0.113.5', port: 40000 };

export interface RegisterSpec {
  user: string;
  domain?: string;
  ruri?: string;
  callId?: string;
  cseq?: number;
  contacts?: string[];
  expires?: number | string;
  authorization?: string;
  userAgent?: string;
  source?: Endpoint;
}

export function buildRegister(spec: RegisterSpec): SipRequest {
  const domain = spec.domain ?? TENANT.domain;
  const lines = [
    `REGISTER ${spec.ruri ?? `sip:${domain}`} SIP/2.0`,
    'Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK' + Math.random().toString(36).slice(2),
    'Max-Forwards: 70',
    `From: <sip:${spec.user}@${domain}>;tag=abc`,
    `To: <sip:${spec.user}@${domain}>`,
    `Call-ID: ${spec.callId ?? 'call-1'}`,
    `CSeq: ${spec.cseq ?? 1} REGISTER`,
  ];
  if (spec.userAgent) lines.push(`User-Agent: ${spec.userAgent}`);
  lines.push('Content-Length: 0', '', '');
  const msg = parseMessage(Buffer.from(lines.join('\r\n')));
  if (!(msg instanceof SipRequest)) throw new Error('not a request');
  // Added after parsing so tests can hand the registrar values the parser would refuse.
  for (const c of spec.contacts ?? []) msg.headers.append('Contact', c);
  if (spec.expires !== undefined) msg.headers.append('Expires', String(spec.expires));
  if (spec.authorization) msg.headers.append('Authorization', spec.authorization);
  msg.source = { ...(spec.source ?? UDP_SOURCE) };
  msg.localEndpoint = { transport: msg.source.transport, address: '198.51.100.1', port: 5060 };
  return msg;
}

export interface Harness {
  directory: FakeDirectory;
  store: MemoryBindingStore;
  events: RegistrationEvent[];
  clock: ReturnType<typeof fakeClock>;
  location: LocationService;
  digest: DigestServer;
  registrar: Registrar;
  /** Sends the REGISTER; on a 401 answers the challenge with `password` (CSeq + 1). */
  register(spec: RegisterSpec & { password?: string; md5Only?: boolean }): Promise<SipResponse>;
}

export function makeHarness(opts: Partial<Pick<RegistrarOptions, 'minExpiresSec' | 'maxExpiresSec' | 'defaultExpiresSec' | 'maxBindingsPerAccount' | 'authGuard'>> = {}): Harness {
  const directory = new FakeDirectory();
  const store = new MemoryBindingStore();
  const events: RegistrationEvent[] = [];
  const clock = fakeClock();
  const emit = (e: RegistrationEvent): void => {
    events.push(e);
  };
  const location = new LocationService({ store, emit, now: clock.now });
  const digest = new DigestServer({ secret: 'registrar-test-secret-123', now: clock.now });
  const registrar = new Registrar({ directory, location, digest, emit, ...opts });
  const cseqs = new Map<string, number>();
  return {
    directory, store, events, clock, location, digest, registrar,
    async register(spec) {
      const callId = spec.callId ?? 'call-1';
      const cseq = spec.cseq ?? (cseqs.get(callId) ?? 0) + 1;
      cseqs.set(callId, cseq + 1);
      const first = await registrar.handle(buildRegister({ ...spec, callId, cseq }));
      if (first.status !== 401 || spec.password === undefined) return first;
      const client = new DigestClient({ username: spec.user, password: spec.password });
      const req = buildRegister({ ...spec, callId, cseq: cseq + 1 });
      const challenges = first.headers.getAll('WWW-Authenticate').filter((v) => !spec.md5Only || v.includes('algorithm=MD5'));
      const answer = client.answer(challenges, { method: 'REGISTER', uri: `sip:${spec.domain ?? TENANT.domain}` });
      if (!answer) throw new Error('cannot answer challenge');
      req.headers.append('Authorization', answer.headerValue);
      return registrar.handle(req);
    },
  };
}

export function contactsOf(res: SipResponse): string[] {
  return res.headers.getAll('Contact');
}
