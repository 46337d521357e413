import { rootCertificates } from 'node:tls';
import { createHmac, randomUUID } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { DatabaseHealth, WriteJournal, writeJournalSettingsFromEnv, type Database } from '../db/index.ts';
import type { EventBus } from './events/index.ts';
import { BanSync, CidrSet, DbAccountDirectory, DbBindingStore, LocationService, NatKeepAlive, Registrar } from './registrar/index.ts';
import { RequestDispatcher } from './request-dispatcher.ts';
import { CallService, parseParkSlots } from './calls/index.ts';
import { CallAnnotations, CallerNames } from './calls/index.ts';
import { DbDialplanStore, callAccountsFrom, cdrSinkFor } from './calls/index.ts';
import { SandboxSupervisor } from '../sandbox/index.ts';
import { DbProviderSource, InboundProviderMatcher, ProviderHealth, ProviderLegs, ProviderRegistrationAgent, type RegisterOutcome } from './providers/index.ts';
import { LegDestinationPolicy } from './calls/index.ts';
import { AuthFailureGuard, DigestServer, SipServerResolver, SourceRateLimiter, nodeSipDns, type AuthGuard } from './sip/index.ts';
import { SipStack, parseUri, type Endpoint, type ListenSpec, type SipRequest, type TimerHandle } from './sip/index.ts';
import { SubscriptionService } from './presence/index.ts';

export interface SipServicesContext {
  config: Config;
  db: Database;
  logger: Logger;
  events: EventBus;
  userAgent: string;
  /** Whether the database answers (main.ts shares it with the health check); made here if absent. */
  dbHealth?: DatabaseHealth;
  /**
   * The write journal (main.ts opens and replays it before the switch serves); every CDR, binding
   * and provider state goes through it. Without one, a journal in the data dir is opened here.
   */
  journal?: WriteJournal;
}

export interface SipServices {
  readonly stack: SipStack;
  readonly location: LocationService;
  readonly directory: DbAccountDirectory;
  readonly calls: CallService;
  readonly sandbox: SandboxSupervisor;
  /** The switchboard's additions to calls (phonebook caller names, notes, hold times): CallControl shows them. */
  readonly annotations: CallAnnotations;
  /** The one brute-force guard for every digest check (REGISTER now, INVITE through the calls layer). */
  readonly authGuard: AuthGuard;
  /** Provider legs and destination policies (cached 30 s; `providerSource.invalidate()` re-reads). */
  readonly providers: ProviderLegs;
  readonly providerSource: DbProviderSource;
  /** Inbound provider matching (DID lookups cached 30 s; `invalidate()` re-reads). */
  readonly inboundProviders: InboundProviderMatcher;
  /** Registrations of providers with `register` on (state also in the database). */
  readonly providerRegistrations: ProviderRegistrationAgent;
  /** SUBSCRIBE/NOTIFY (dialog, presence, message-summary); main.ts attaches the extension states. */
  readonly subscriptions: SubscriptionService;
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
  const dbHealth = ctx.dbHealth ?? new DatabaseHealth({ probe: () => db.ping(), logger: logger.child({ component: 'db' }) });
  const journal = ctx.journal ?? (await WriteJournal.open({ ...writeJournalSettingsFromEnv(process.env, config.dataDir), target: db, health: dbHealth, logger: logger.child({ component: 'journal' }) }));
  if (!ctx.journal) await journal.replay();
  // A *78 waiting in the journal counts at once; once the database has it, it is read from there.
  const directory = new DbAccountDirectory({
    db,
    health: dbHealth,
    overlay: (a) => {
      const dnd = journal.pendingDnd(a.id);
      return dnd === undefined || dnd === (a.dnd === true) ? a : { ...a, dnd };
    },
  });
  // A lookup between the *78 and its commit cached the old row: read that account again now.
  const unsubscribeJournal = journal.onApplied((w) => {
    if (w.kind === 'accountDnd') directory.invalidateAccount(w.change.accountId);
  });
  await directory.load();
  const dialplans = new DbDialplanStore(db, undefined, dbHealth);
  const callerNames = new CallerNames({ load: (tenantId) => db.contacts.listAll(tenantId), logger: logger.child({ component: 'calls' }) });
  const annotations = new CallAnnotations({ names: callerNames, emit: (event) => events.emit(event) });
  // Admin writes through the API say so on the bus: drop the cached copies at once, not after a TTL.
  const unsubscribeConfig = events.subscribe({ types: ['config.changed'] }, (e) => {
    if (e.type !== 'config.changed') return;
    if (e.kind === 'account' || e.kind === 'tenant') directory.invalidate();
    if (e.kind === 'dialplan' || e.kind === 'tenant') dialplans.invalidate(e.tenantId, e.name);
    if (e.kind === 'contacts') callerNames.invalidate(e.tenantId);
  });

  const location = new LocationService({
    store: new DbBindingStore(db, journal),
    emit: (event) => events.emit(event),
    logger: sipLogger,
  });
  const restored = await location.load();
  location.start();

  // Node's `ca` replaces the public roots; an operator's extra CA is trusted besides them.
  const extraCa = config.sip.tlsCaFile ? [...rootCertificates, readFileSync(config.sip.tlsCaFile, 'utf8')] : undefined;
  const tls = config.sip.tls
    ? { cert: readFileSync(config.sip.tls.certFile, 'utf8'), key: readFileSync(config.sip.tls.keyFile, 'utf8'), ...(extraCa && { ca: extraCa }) }
    : undefined;
  const trusted = new CidrSet(config.security.trustedNetworks);
  const stack = new SipStack({
    listen: config.sip.listen,
    tls,
    publicAddress: config.sip.publicAddress,
    udpReceiveBufferBytes: config.sip.udpReceiveBufferBytes,
    timers: { T1: config.sip.t1Ms },
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
  const cdrs = cdrSinkFor(journal, (cdr) => callLogger.error({ callId: cdr.callId, tenantId: cdr.tenantId }, 'CDR lost: write journal full'));
  const providerSource = new DbProviderSource(db, undefined, dbHealth);
  const providers = new ProviderLegs(providerSource);
  const sipResolver = new SipServerResolver({ dns: nodeSipDns(config.sip.dnsServers) });
  let registrationAgent: ProviderRegistrationAgent | undefined;
  const inboundProviders = new InboundProviderMatcher({
    db,
    health: dbHealth,
    registeredContact: (user) => registrationAgent?.byContactUser(user)?.provider,
    resolve: async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address),
  });
  // *78/*79 from a phone: the flag and its audit row go through the journal (a database outage
  // does not fail the feature code), calls see the flag at once through the directory's overlay,
  // and presence hears it (extension.state, BLF/presence NOTIFYs).
  const setDnd = async (account: { tenantId: number; id: number; username: string }, dnd: boolean, by: string): Promise<void> => {
    const at = Date.now();
    if (!journal.append({ kind: 'accountDnd', change: { key: randomUUID(), accountId: account.id, tenantId: account.tenantId, dnd, actor: by, at } })) {
      throw new Error('write journal full');
    }
    events.emit({ type: 'config.changed', tenantId: account.tenantId, kind: 'account', name: account.username, at });
    events.emit({ type: 'account.dnd', tenantId: account.tenantId, accountId: account.id, user: account.username, dnd, by, at });
  };
  const calls = new CallService({
    setDnd,
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
    cdrs: annotations.cdrSink(cdrs),
    emit: (event) => events.emit(annotations.event(event)),
    callerNamesReady: (tenantId) => callerNames.ready(tenantId),
    logger: callLogger,
    publicAddress: config.sip.publicAddress,
    allowedLegNetworks: config.calls.allowedLegNetworks,
    maxCalls: config.security.maxCalls,
    park: { ...parseParkSlots(config.park.slots)!, recallSeconds: config.park.recallSeconds },
    tenantPark: async (tenantId) => {
      const t = await db.tenants.get(tenantId);
      return t && { slots: t.parkSlots, recallSeconds: t.parkRecallSeconds };
    },
  });
  const unsubscribeParkConfig = events.subscribe({ types: ['config.changed'] }, (e) => {
    if (e.type === 'config.changed' && e.kind === 'tenant') calls.parkSettings.invalidate(e.tenantId);
  });
  const subscriptions = new SubscriptionService({
    stack,
    bus: events,
    logger: logger.child({ component: 'presence' }),
    userAgent: ctx.userAgent,
    publicAddress: config.sip.publicAddress,
    authenticate: (req) => calls.authenticateAccount(req),
    tenantForDomain: (domain) => directory.tenantForDomain(domain),
    findAccount: (user, domain) => directory.findAccount(user, domain),
    dialogs: (tenantId, user) => calls.phoneDialogs(tenantId, user),
  });
  const dispatcher = new RequestDispatcher({ stack, logger: sipLogger, registrar, calls, presence: subscriptions, userAgent: ctx.userAgent });
  stack.onRequest = (req, tx) => dispatcher.dispatch(req, tx);

  try {
    await stack.start();
    await sandbox.start();
  } catch (err) {
    await stack.stop().catch(() => {});
    await sandbox.stop().catch(() => {});
    await banSync.stop();
    await location.close();
    unsubscribeJournal();
    if (!ctx.journal) await journal.close();
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
    // Every server target is pinged, so a dead one is tried last by the provider's legs.
    locate: async (p) => (await sipResolver.resolve(parseUri(p.outboundProxy ?? p.serverUri))).filter((t) => {
      const problem = registrarPolicy.problem(t);
      return !problem || problem.startsWith('port ');
    }),
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
    store: async (s) => {
      journal.append({ kind: 'providerState', state: { ...s, updatedAt: Date.now() } });
    },
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
  // API writes to providers, DIDs and policies apply at once, not after the 30 s caches expire.
  const unsubscribeProviderConfig = events.subscribe({ types: ['config.changed'] }, (e) => {
    if (e.type !== 'config.changed') return;
    if (e.kind === 'provider' || e.kind === 'policy' || e.kind === 'tenant') providerSource.invalidate();
    if (e.kind === 'provider' || e.kind === 'did' || e.kind === 'tenant') inboundProviders.invalidate();
    if (e.kind === 'provider' || e.kind === 'tenant') {
      providerRegistrations.sync().catch((err: unknown) => logger.warn({ err }, 'provider sync after a config change failed'));
    }
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
              subscriptions: subscriptions.size,
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
    annotations,
    authGuard,
    providers,
    providerSource,
    providerRegistrations,
    inboundProviders,
    subscriptions,
    listening: () => stack.listening(),
    close() {
      closing ??= (async () => {
        if (statsTimer) clearInterval(statsTimer);
        await banSync.stop();
        unsubscribeConfig();
        unsubscribeJournal();
        unsubscribeProviderConfig();
        unsubscribeParkConfig();
        keepAlive.stop();
        providerHealth.stop();
        await providerRegistrations.stop();
        calls.close();
        subscriptions.close();
        await stack.stop();
        await sandbox.stop();
        await cdrs.close(); // queued CDRs are written before main.ts closes the database
        await location.close();
        if (!ctx.journal) await journal.close();
        if (!ctx.dbHealth) dbHealth.close();
      })();
      return closing;
    },
  };
}
