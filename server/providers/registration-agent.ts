import type { ProviderRegistrationEvent } from '../events/index.ts';
import type { Logger } from 'pino';
import {
  buildRegister, formatHost, grantedExpires, newClientRegistration, parseUri, uriTransport,
  type ClientCredentials, type ClientRegistrationIdentity, type Endpoint, type SipRequest, type SipResponse, type SipUri,
} from '../sip/index.ts';
import type { ProviderRecord } from './provider-directory.ts';
import { backoffDelayMs, refreshDelayMs } from './registration-schedule.ts';

/** States of one provider's registration; transitions in {@link TRANSITIONS}. */
export enum RegistrationState {
  Idle = 'idle',
  Registering = 'registering',
  Registered = 'registered',
  /** Waiting for the next attempt after a failure (backoff). */
  Retrying = 'retrying',
  /** 403/404 or refused configuration: no retries until the provider is edited. */
  NeedsAttention = 'needs-attention',
  Unregistering = 'unregistering',
  Stopped = 'stopped',
}

const TRANSITIONS: Record<RegistrationState, RegistrationState[]> = {
  [RegistrationState.Idle]: [RegistrationState.Registering, RegistrationState.NeedsAttention, RegistrationState.Stopped],
  [RegistrationState.Registering]: [RegistrationState.Registered, RegistrationState.Retrying, RegistrationState.NeedsAttention, RegistrationState.Registering, RegistrationState.Stopped],
  [RegistrationState.Registered]: [RegistrationState.Registering, RegistrationState.Unregistering, RegistrationState.Stopped],
  [RegistrationState.Retrying]: [RegistrationState.Registering, RegistrationState.Stopped],
  [RegistrationState.NeedsAttention]: [RegistrationState.Stopped],
  [RegistrationState.Unregistering]: [RegistrationState.Stopped],
  [RegistrationState.Stopped]: [],
};

export type RegisterOutcome =
  | { kind: 'response'; response: SipResponse }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string };

/** Sends one REGISTER (digest answered with `credentials`) and reports its final outcome. */
export interface RegisterSender {
  send(req: SipRequest, target: Endpoint, credentials: ClientCredentials | undefined): Promise<RegisterOutcome>;
  /** Our address for a transport (Contact), e.g. the public address and the listener port. */
  contactAddress(transport: Endpoint['transport']): { host: string; port: number };
}

export interface AgentTimers {
  schedule(ms: number, fn: () => void): unknown;
  cancel(handle: unknown): void;
}

export type RegistrationEvent = ProviderRegistrationEvent;

export interface RegistrationAgentOptions {
  sender: RegisterSender;
  timers: AgentTimers;
  now(): number;
  random(): number;
  resolve(host: string): Promise<string>;
  /** Why the registrar's address may not be used (loopback/private not allow-listed), or undefined. */
  checkTarget(target: Endpoint): string | undefined;
  /** Registration state for the database (`patchbay provider list`). */
  store(state: { providerId: number; state: 'unregistered' | 'registering' | 'registered' | 'failed' | 'needs-attention'; expiresAt?: number | null; lastError?: string | null }): Promise<void>;
  emit(event: RegistrationEvent): void;
  logger: Logger;
}

/** How long a clean shutdown waits for each unregistration to be confirmed. */
const UNREGISTER_WAIT_MS = 2000;

/** The contact user part Patchbay registers for a provider; inbound requests to it are that provider's. */
export function registrationContactUser(p: Pick<ProviderRecord, 'name' | 'tenantId'>): string {
  return `${p.name}-${p.tenantId}`;
}

/** One provider's registration: REGISTER, refresh at 80 % of the granted expiry, backoff on failure. */
export class ProviderRegistrationClient {
  private stateValue = RegistrationState.Idle;
  private timer: unknown;
  private seq = 0;
  private failures = 0;
  private identity?: ClientRegistrationIdentity;
  private target?: Endpoint;
  private inFlight?: Promise<void>;
  /** Granted expiry of the current binding (ms since epoch). */
  expiresAt?: number;
  lastError?: string;

  constructor(readonly provider: ProviderRecord, private readonly opts: RegistrationAgentOptions) {}

  get state(): RegistrationState {
    return this.stateValue;
  }

  get contactUser(): string {
    return registrationContactUser(this.provider);
  }

  private to(next: RegistrationState): void {
    if (next === this.stateValue && next === RegistrationState.Registering) return;
    if (!TRANSITIONS[this.stateValue].includes(next)) throw new Error(`registration of ${this.provider.name}: ${this.stateValue} → ${next} is not allowed`);
    this.stateValue = next;
  }

  start(): void {
    if (this.stateValue !== RegistrationState.Idle) return;
    this.attempt();
  }

  /** Ends the registration; `unregister` sends Expires: 0 first when registered (clean shutdown). */
  async stop(unregister: boolean): Promise<void> {
    this.opts.timers.cancel(this.timer);
    this.timer = undefined;
    if (this.stateValue === RegistrationState.Stopped) return;
    if (unregister && this.stateValue === RegistrationState.Registered && this.identity && this.target) {
      this.to(RegistrationState.Unregistering);
      // Shutdown waits for the registrar only so long; an unconfirmed binding simply expires there.
      const out = await Promise.race([
        this.opts.sender.send(buildRegister(this.identity, ++this.seq, 0), this.target, this.credentials()),
        new Promise<RegisterOutcome>((resolve) => { this.timer = this.opts.timers.schedule(UNREGISTER_WAIT_MS, () => resolve({ kind: 'timeout' })); }),
      ]);
      this.opts.timers.cancel(this.timer);
      const ok = out.kind === 'response' && out.response.status < 300;
      this.opts.emit({ ...this.eventBase('provider.registration.unregistered'), status: out.kind === 'response' ? out.response.status : undefined });
      await this.opts.store({ providerId: this.provider.id, state: 'unregistered', expiresAt: null, lastError: ok ? null : 'unregister not confirmed' }).catch(() => {});
    }
    this.stateValue = RegistrationState.Stopped;
  }

  private credentials(): ClientCredentials | undefined {
    const user = this.provider.authUser ?? this.provider.username;
    return user && this.provider.password !== undefined ? { username: user, password: this.provider.password } : undefined;
  }

  private attempt(): void {
    if (this.stateValue === RegistrationState.Stopped || this.stateValue === RegistrationState.NeedsAttention) return;
    this.to(RegistrationState.Registering);
    this.inFlight = this.register().catch((err: unknown) => this.failed(undefined, `registration failed: ${(err as Error).message}`));
  }

  private async register(): Promise<void> {
    const p = this.provider;
    if (!this.target || !this.identity) {
      const registrarUri = parseUri(p.outboundProxy ?? p.serverUri);
      const server = parseUri(p.serverUri);
      const transport = uriTransport(registrarUri);
      let address: string;
      try {
        address = /^[0-9.]+$|:/.test(registrarUri.host) ? registrarUri.host : await this.opts.resolve(registrarUri.host);
      } catch {
        this.failed(undefined, `registrar ${registrarUri.host} not found`);
        return;
      }
      const target: Endpoint = { transport, address, port: registrarUri.port ?? (transport === 'tls' ? 5061 : 5060) };
      // TLS: the registrar's certificate must name its host, not the address it resolved to (RFC 5922).
      if (transport === 'tls' && address !== registrarUri.host) target.serverName = registrarUri.host;
      const problem = this.opts.checkTarget(target);
      if (problem) {
        this.needsAttention(undefined, `registrar not allowed: ${problem}`);
        return;
      }
      const local = this.opts.sender.contactAddress(transport);
      const t = transport === 'udp' ? '' : `;transport=${transport}`;
      const aorHost = p.settings.fromHost ?? server.host;
      const aor: SipUri = { scheme: server.scheme === 'sips' ? 'sips' : 'sip', user: p.username ?? p.fromUser ?? this.contactUser, host: aorHost, params: {}, headers: {} };
      this.identity = newClientRegistration({
        registrar: { ...server, user: undefined, password: undefined, params: pickTransport(server.params), headers: {} },
        aor,
        contact: `<sip:${this.contactUser}@${formatHost(local.host)}:${local.port}${t}>`,
        callIdHost: local.host,
      });
      this.target = target;
    }
    const requested = p.registerExpiry;
    const req = buildRegister(this.identity, ++this.seq, requested, p.outboundProxy ? [['Route', `<${p.outboundProxy.replace(/>$/, '')};lr>`]] : []);
    const out = await this.opts.sender.send(req, this.target, this.credentials());
    // A challenge answered by the stack re-sent it with a higher CSeq: go on from there.
    this.seq = Math.max(this.seq, req.cseq.seq);
    if (this.stateValue !== RegistrationState.Registering) return;
    if (out.kind === 'timeout') return this.failed(408, 'registrar did not answer');
    if (out.kind === 'error') return this.failed(503, out.message);
    const res = out.response;
    if (res.status >= 200 && res.status < 300) {
      const granted = grantedExpires(res, this.identity.contact, requested);
      if (granted <= 0) return this.failed(res.status, 'registrar granted no expiry');
      this.failures = 0;
      this.lastError = undefined;
      this.expiresAt = this.opts.now() + granted * 1000;
      this.to(RegistrationState.Registered);
      this.timer = this.opts.timers.schedule(refreshDelayMs(granted), () => this.attempt());
      this.opts.emit({ ...this.eventBase('provider.registration.registered'), expiresAt: this.expiresAt, status: res.status });
      await this.opts.store({ providerId: p.id, state: 'registered', expiresAt: this.expiresAt, lastError: null });
      return;
    }
    if (res.status === 423) {
      const min = Number(res.headers.get('Min-Expires'));
      if (Number.isInteger(min) && min > requested && min <= 86_400) {
        this.provider.registerExpiry = min;
        this.attempt();
        return;
      }
    }
    if (res.status === 403 || res.status === 404) return this.needsAttention(res.status, `${res.status} ${res.reason}`);
    this.failed(res.status, `${res.status} ${res.reason}`);
  }

  private needsAttention(status: number | undefined, reason: string): void {
    this.to(RegistrationState.NeedsAttention);
    this.lastError = reason;
    this.expiresAt = undefined;
    this.opts.logger.warn({ provider: this.provider.name, tenantId: this.provider.tenantId, reason }, 'provider registration needs attention; not retrying until the provider is edited');
    this.opts.emit({ ...this.eventBase('provider.registration.failed'), status, reason, needsAttention: true });
    void this.opts.store({ providerId: this.provider.id, state: 'needs-attention', expiresAt: null, lastError: reason }).catch(() => {});
  }

  private failed(status: number | undefined, reason: string): void {
    if (this.stateValue !== RegistrationState.Registering) return;
    this.failures++;
    const delay = backoffDelayMs(this.failures, this.opts.random());
    this.to(RegistrationState.Retrying);
    this.lastError = reason;
    this.expiresAt = undefined;
    this.opts.logger.warn({ provider: this.provider.name, tenantId: this.provider.tenantId, reason, retryInMs: delay }, 'provider registration failed');
    this.timer = this.opts.timers.schedule(delay, () => this.attempt());
    this.opts.emit({ ...this.eventBase('provider.registration.failed'), status, reason, retryInMs: delay });
    void this.opts.store({ providerId: this.provider.id, state: 'failed', expiresAt: null, lastError: reason }).catch(() => {});
  }

  /** The attempt under way (tests wait for it). */
  settled(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  private eventBase<T extends RegistrationEvent['type']>(type: T) {
    return { type, tenantId: this.provider.tenantId, provider: this.provider.name, providerId: this.provider.id, at: this.opts.now() };
  }
}


function pickTransport(params: Record<string, string | null>): Record<string, string | null> {
  return params['transport'] ? { transport: params['transport'] } : {};
}

/**
 * Every provider with `register` on keeps a registration; the set follows the database (re-read
 * every `syncMs`, so an edited provider starts over and leaves "needs attention").
 */
export class ProviderRegistrationAgent {
  private readonly clients = new Map<number, { client: ProviderRegistrationClient; fingerprint: string }>();
  private syncTimer: unknown;
  private stopped = false;

  constructor(
    private readonly opts: RegistrationAgentOptions & { list(): Promise<ProviderRecord[]>; syncMs?: number },
  ) {}

  async start(): Promise<void> {
    await this.sync();
  }

  /** Registrations by provider id (inbound matching, `provider list`). */
  registrations(): ProviderRegistrationClient[] {
    return [...this.clients.values()].map((c) => c.client);
  }

  /** The provider whose registered contact user this is. */
  byContactUser(user: string): ProviderRegistrationClient | undefined {
    for (const { client } of this.clients.values()) if (client.contactUser === user) return client;
    return undefined;
  }

  async sync(): Promise<void> {
    if (this.stopped) return;
    let providers: ProviderRecord[];
    try {
      providers = (await this.opts.list()).filter((p) => p.register);
    } catch (err) {
      this.opts.logger.error({ err }, 'provider list for registration failed');
      providers = [...this.clients.values()].map((c) => c.client.provider);
    }
    const seen = new Set<number>();
    for (const p of providers) {
      seen.add(p.id);
      const fingerprint = JSON.stringify(p);
      const current = this.clients.get(p.id);
      if (current && current.fingerprint === fingerprint) continue;
      if (current) await current.client.stop(true);
      const client = new ProviderRegistrationClient({ ...p, settings: { ...p.settings } }, this.opts);
      this.clients.set(p.id, { client, fingerprint });
      client.start();
    }
    for (const [id, { client }] of [...this.clients]) {
      if (seen.has(id)) continue;
      this.clients.delete(id);
      await client.stop(true);
    }
    // One pending re-read at a time, however often sync() is called.
    this.opts.timers.cancel(this.syncTimer);
    if (!this.stopped && this.opts.syncMs) this.syncTimer = this.opts.timers.schedule(this.opts.syncMs, () => void this.sync());
  }

  /** Clean shutdown: every registered provider is unregistered (Expires: 0). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.timers.cancel(this.syncTimer);
    await Promise.all([...this.clients.values()].map(({ client }) => client.stop(true).catch(() => {})));
  }
}
