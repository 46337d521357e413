import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { EventBus } from './events/index.ts';
import { BanSync, CidrSet, DbAccountDirectory, DbBindingStore, LocationService, NatKeepAlive, Registrar } from './registrar/index.ts';
import { RequestDispatcher } from './request-dispatcher.ts';
import { CallService, parseParkSlots } from './calls/index.ts';
import { DbDialplanStore, callAccountsFrom, cdrSinkFor } from './calls/index.ts';
import { SandboxSupervisor } from '../sandbox/index.ts';
import { DbProviderSource, InboundProviderMatcher, ProviderHealth, ProviderLegs, ProviderRegistrationAgent, type RegisterOutcome } from './providers/index.ts';
import { LegDestinationPolicy } from './calls/index.ts';
import { AuthFailureGuard, DigestServer, SipServerResolver, SourceRateLimiter, nodeSipDns, type AuthGuard } from './sip/index.ts';
import { SipStack, parseUri, type Endpoint, type ListenSpec, type SipRequest, type TimerHandle } from './sip/index.ts';

export interface SipServicesContext {
  config: Config;
  db: Database;
  logger: Logger;
  events: EventBus;
  userAgent: string;
}

export interface SipServices {
  readonly stack: SipStack;
  readonly location: LocationService;
  readonly directory: DbAccountDirectory;
  readonly calls: CallService;
  readonly sandbox: SandboxSupervisor;
  /** The one brute-force guard for every digest check (REGISTER now, INVITE through the calls layer). */
  readonly authGuard: AuthGuard;
  /** Provider legs and destination policies (cached 30 s; `providerSource.invalidate()` re-reads). */
  readonly providers: ProviderLegs;
  readonly providerSource: DbProviderSource;
  /** Inbound provider matching (DID lookups cached 30 s; `invalidate()` re-reads). */
  readonly inboundProviders: InboundProviderMatcher;
  /** Registrations of providers with `register` on (state also in the database). */
  readonly providerRegistrations: ProviderRegistrationAgent;
  /** Listeners with their real ports (port 0 resolved). */
  listening(): ListenSpec[];
  close(): Promise<void>;
}

/**
 * The SIP side of the switch: transports on config.sip.listen, the transaction layer, the
 * registrar with its in-memory location service (restored from the database, written behind)
 * and NAT keep-alives.
 */
export async function startSipServices(ctx: SipServicesContext): Promise<SipServices> {
  const { config, db, logger, events } = ctx;
  const sipLogger = logger.child({ component: 'sip' });
  const directory = new DbAccountDirectory({ db });
  await directory.load();
  const dialplans = new DbDialplanStore(db);
  // Admin writes through the API say so on the bus: drop the cached copies at once, not after a TTL.
  const unsubscribeConfig = events.subscribe({ types: ['config.changed'] }, (e) => {
    if (e.type !== 'config.changed') return;
    if (e.kind === 'account' || e.kind === 'tenant') directory.invalidate();
    if (e.kind === 'dialplan' || e.kind === 'tenant') dialplans.invalidate(e.tenantId, e.name);
  });

  const location = new LocationService({
    store: new DbBindingStore(db),
    emit: (event) => events.emit(event),
    logger: sipLogger,
  });
  const restored = await location.load();
  location.start();

  const tls = config.sip.tls
    ? { cert: readFileSync(config.sip.tls.certFile, 'utf8'), key: readFileSync(config.sip.tls.keyFile, 'utf8') }
    : undefined;
  const trusted = new CidrSet(config.security.trustedNetworks);
  const stack = new SipStack({
    listen: config.sip.listen,
    tls,
    publicAddress: config.sip.publicAddress,
    udpReceiveBufferBytes: config.sip.udpReceiveBufferBytes,
    idleConnectionTimeoutMs: config.security.idleConnectionTimeoutSec * 1000,
    maxServerTransactions: config.security.maxServerTransactions,
    rateLimiter: new SourceRateLimiter({
      ratePerSec: config.security.rateLimitPerSource,
      burst: config.security.rateLimitBurst,
      isExempt: (address) => trusted.contains(address),
      logger: logger.child({ component: 'sip' }),
    }),
    connectionLimits: {
      maxPerSource: config.security.maxConnectionsPerSource,
      maxTotal: config.security.maxConnections,
      firstMessageTimeoutMs: config.security.firstMessageTimeoutSec * 1000,
    },
    logger: sipLogger,
    userAgent: ctx.userAgent,
  });

  // Nonce key derived from the secret (never the provider-encryption key itself) so every node behind one balancer agrees.
  const digest = new DigestServer({
    secret: createHmac('sha256', config.secretKey).update('patchbay/digest-nonce').digest(),
    // Default MD5 only: libre/baresip 1.0 (and other deployed MD5-only clients) fail the whole
    // REGISTER when any challenge names another algorithm instead of skipping it. SHA-256 HA1s are
    // stored, so an operator whose phones all speak RFC 8760 can offer both.
    algorithms: config.registrar.digestAlgorithms,
  });
  const authGuard = new AuthFailureGuard({
    sourceLimit: config.security.authFailuresPerSource,
    accountLimit: config.security.authFailuresPerAccount,
    banMs: config.security.authBanSec * 1000,
    isExempt: (address) => trusted.contains(address),
    logger: logger.child({ component: 'auth' }),
  });
  // Bans live in the database too: `patchbay ban list|remove` work against it and a restart keeps them.
  const banSync = new BanSync({ guard: authGuard, store: db.bans, logger: logger.child({ component: 'auth' }) });
  await banSync.start();
  const registrar = new Registrar({
    authGuard,
    directory,
    location,
    digest,
    emit: (event) => events.emit(event),
    logger: sipLogger,
    minExpiresSec: config.registrar.minExpires,
    maxExpiresSec: config.registrar.maxExpires,
    defaultExpiresSec: config.registrar.defaultExpires,
    maxBindingsPerAccount: config.registrar.maxBindings,
    ownHosts: config.sip.publicAddress ? [config.sip.publicAddress] : [],
  });
  const sandbox = new SandboxSupervisor({
    logger: logger.child({ component: 'sandbox' }),
    maxConcurrentPerTenant: config.sandbox.maxConcurrent,
    maxInboundPerSource: config.sandbox.maxInboundPerSource,
    user: config.sandbox.user,
    requireSupportedNode: config.sandbox.requireSupportedNode,
    allowUnsupportedNode: config.sandbox.allowUnsupportedNode,
    limits: { memoryMiB: config.sandbox.memoryMb, cpuMs: config.sandbox.cpuMs },
  });
  const callLogger = logger.child({ component: 'calls' });
  const cdrs = cdrSinkFor(db, (err) => callLogger.error({ err }, 'CDR write failed'));
  const providerSource = new DbProviderSource(db);
  const providers = new ProviderLegs(providerSource);
  const sipResolver = new SipServerResolver({ dns: nodeSipDns(config.sip.dnsServers) });
  let registrationAgent: ProviderRegistrationAgent | undefined;
  const inboundProviders = new InboundProviderMatcher({
    db,
    registeredContact: (user) => registrationAgent?.byContactUser(user)?.provider,
    resolve: async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address),
  });
  const calls = new CallService({
    stack,
    providers,
    inboundProviders,
    sipResolver,
    authGuard,
    location,
    accounts: callAccountsFrom(directory),
    digest,
    sandbox,
    dialplans,
    kv: db.kv,
    secrets: db.secrets,
    cdrs,
    emit: (event) => events.emit(event),
    logger: callLogger,
    publicAddress: config.sip.publicAddress,
    allowedLegNetworks: config.calls.allowedLegNetworks,
    maxCalls: config.security.maxCalls,
    park: { ...parseParkSlots(config.park.slots)!, recallSeconds: config.park.recallSeconds },
  });
  const dispatcher = new RequestDispatcher({ stack, logger: sipLogger, registrar, calls, userAgent: ctx.userAgent });
  stack.onRequest = (req, tx) => dispatcher.dispatch(req, tx);

  try {
    await stack.start();
    await sandbox.start();
  } catch (err) {
    await stack.stop().catch(() => {});
    await sandbox.stop().catch(() => {});
    await banSync.stop();
    await location.close();
    throw err;
  }
  const keepAlive = new NatKeepAlive({
    stack,
    location,
    logger: sipLogger,
    keepAliveIntervalSec: config.registrar.keepAliveIntervalSec,
    qualifyIntervalSec: config.registrar.qualifyIntervalSec,
  });
  keepAlive.start();

  // Registrars are checked like legs: never this switch, never a private network the operator did not allow.
  const registrarPolicy = new LegDestinationPolicy({ allowedNetworks: config.calls.allowedLegNetworks, listeners: () => stack.listening() });
  const sendOnce = (req: SipRequest, target: Endpoint, credentials?: { username: string; password: string }) => new Promise<RegisterOutcome>((resolve) => {
    stack.sendRequest(req, {
      target, credentials,
      handler: {
        onFinal: (response) => resolve({ kind: 'response', response }),
        onTimeout: () => resolve({ kind: 'timeout' }),
        onTransportError: (err) => resolve({ kind: 'error', message: err.message }),
      },
    });
  });
  const wheelTimers = { schedule: (ms: number, fn: () => void) => stack.wheel.schedule(ms, fn), cancel: (h: unknown) => stack.wheel.cancel(h as TimerHandle | undefined) };
  const providerHealth = new ProviderHealth({
    send: (req, target) => sendOnce(req, target),
    locate: async (p) => {
      const [first] = await sipResolver.resolve(parseUri(p.outboundProxy ?? p.serverUri));
      const problem = first ? registrarPolicy.problem(first) : undefined;
      return first && (!problem || problem.startsWith('port ')) ? first : undefined;
    },
    callIdHost: () => config.sip.publicAddress ?? stack.localAddressFor('udp')?.host ?? 'patchbay',
    timers: wheelTimers,
    now: () => Date.now(),
    emit: (event) => events.emit(event),
    logger: logger.child({ component: 'providers' }),
  });
  providers.health = providerHealth;
  const providerRegistrations = new ProviderRegistrationAgent({
    sender: {
      send: (req, target, credentials) => sendOnce(req, target, credentials),
      contactAddress: (kind) => {
        const local = stack.localAddressFor(kind);
        return { host: config.sip.publicAddress ?? local?.host ?? '127.0.0.1', port: local?.port ?? 5060 };
      },
    },
    timers: wheelTimers,
    now: () => Date.now(),
    random: () => Math.random(),
    resolve: async (host) => (await dnsLookup(host)).address,
    checkTarget: (target) => {
      const problem = registrarPolicy.problem(target);
      return problem && !problem.startsWith('port ') ? problem : undefined;
    },
    store: (s) => db.providerRegistrations.set(s),
    emit: (event) => events.emit(event),
    logger: logger.child({ component: 'providers' }),
    list: async () => {
      const all = await providerSource.listAll();
      providerHealth.sync(all);
      return all;
    },
    syncMs: 30_000,
  });
  registrationAgent = providerRegistrations;
  await providerRegistrations.start();
  // A provider added or changed through the API registers (or stops) now, not at the next 30 s re-read.
  const unsubscribeProviderChanges = events.subscribe({ types: ['config.changed'] }, (e) => {
    if (e.type === 'config.changed' && (e.kind === 'provider' || e.kind === 'tenant')) providerRegistrations.sync().catch((err: unknown) => logger.error({ err }, 'provider registration re-sync failed'));
  });

  for (const l of stack.listening()) {
    logger.info({ transport: l.transport, host: l.host, port: l.port }, `SIP listening on ${l.transport}:${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`);
  }
  logger.info({ bindings: restored, accounts: directory.accountCount }, 'registrar ready');

  // Flood defences are only trustworthy when their tables can be watched: one line with every bounded table's size.
  const statsTimer =
    config.security.statsIntervalSec > 0
      ? setInterval(() => {
          const tx = stack.transactionCount;
          const nonces = digest.nonceTableStats();
          logger.info(
            {
              event: 'sip.stats',
              serverTransactions: tx.server,
              clientTransactions: tx.client,
              ...calls.tableSizes,
              nonceCounts: nonces.nonceCounts,
              nonceWrongAnswers: nonces.wrongAnswers,
              nonceEvictions: nonces.evictions,
              bans: authGuard.bans().length,
              ...stack.securityCounters,
              heapUsed: process.memoryUsage().heapUsed,
            },
            'SIP table sizes',
          );
        }, config.security.statsIntervalSec * 1000)
      : undefined;
  statsTimer?.unref();

  let closing: Promise<void> | undefined;
  return {
    stack,
    location,
    directory,
    calls,
    sandbox,
    authGuard,
    providers,
    providerSource,
    providerRegistrations,
    inboundProviders,
    listening: () => stack.listening(),
    close() {
      closing ??= (async () => {
        if (statsTimer) clearInterval(statsTimer);
        await banSync.stop();
        unsubscribeConfig();
        unsubscribeProviderChanges();
        keepAlive.stop();
        providerHealth.stop();
        await providerRegistrations.stop();
        calls.close();
        await stack.stop();
        await sandbox.stop();
        await cdrs.close(); // queued CDRs are written before main.ts closes the database
        await location.close();
      })();
      return closing;
    },
  };
}
