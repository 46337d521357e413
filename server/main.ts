import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { prepareDataDir, type Config } from '../config/index.ts';
import { DatabaseHealth, openDatabase, WriteJournal, writeJournalSettingsFromEnv, type Database } from '../db/index.ts';
import { authenticateRequest, createApi, FirstRunSetup, sessionSettingsFromEnv, type ApiBinding } from '../web/api/index.ts';
import { createHttpServer, type PatchbayHttpServer } from '../web/http-server.ts';
import type { MetricsHandler, SwitchMetrics } from '../web/metrics/index.ts';
import { COUNTED_SIP_METHODS, SIP_STATUS_CLASSES } from './sip/index.ts';
import { CallControl } from './calls/index.ts';
import { EventBus } from './events/index.ts';
import { ExtensionPresence, type PresenceAccount } from './presence/index.ts';
import { createEventHub, EVENTS_PATH, registrationsOf, SipTraceTap, type EventHub, type EventHubLimits } from '../web/ws/index.ts';
import { jobSettingsFromEnv, ScheduledJobs } from './jobs/index.ts';
import { createLogger } from './logger.ts';
import { startIdleHeapTrim } from './memory/index.ts';
import { startSipServices, type SipServices } from './sip-services.ts';
import type { ListenSpec } from './sip/index.ts';

export interface RunningServer {
  readonly db: Database;
  readonly httpAddress: { host: string; port: number };
  readonly logger: Logger;
  readonly events: EventBus;
  readonly sip: SipServices;
  /** SIP listeners with their real ports. */
  readonly sipListening: ListenSpec[];
  /** The WebSocket event stream at /api/v1/events. */
  readonly eventHub: EventHub;
  /** The one HTTP server (API, WebSocket upgrades via onUpgrade, built UI). */
  readonly http: PatchbayHttpServer;
  /** First run (no web user yet): the one-time link that creates the first operator; null otherwise. */
  readonly setupUrl: string | null;
  close(): Promise<void>;
}

export function patchbayVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** config → db (migrated) → SIP services → HTTP API. close() undoes it in reverse order. */
export async function startServer(config: Config, opts: { logger?: Logger; eventHubLimits?: Partial<EventHubLimits> } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const startedAt = Date.now();
  prepareDataDir(config.dataDir);
  const db = await openDatabase(config.db.url, {
    secretKey: config.secretKey,
    kvQuota: { maxKeys: config.sandbox.kvMaxKeys, maxBytes: config.sandbox.kvMaxBytes },
  });
  const events = new EventBus({ onListenerError: (err) => logger.error({ err }, 'event listener threw') });
  let sip: SipServices | undefined;
  let http: PatchbayHttpServer | undefined;
  let stopJobs: (() => Promise<void>) | undefined;
  let dbHealth: DatabaseHealth | undefined;
  let journal: WriteJournal | undefined;
  let eventHubRef: EventHub | undefined;
  try {
    const applied = await db.migrate();
    logger.info({ db: db.dialect, migrationsApplied: applied }, 'database ready');

    // Learnt from the switch's own reads and writes: while the database is down, calls and
    // registrations are served from memory and writes wait in the journal.
    dbHealth = new DatabaseHealth({ probe: () => db.ping(), logger: logger.child({ component: 'db' }) });
    // What a crash or an outage left unwritten goes to the database before the switch serves,
    // so restored bindings and CDR counts are complete.
    journal = await WriteJournal.open({ ...writeJournalSettingsFromEnv(process.env, config.dataDir), target: db, health: dbHealth, logger: logger.child({ component: 'journal' }) });
    await journal.replay();
    sip = await startSipServices({ config, db, logger, events, userAgent: `Patchbay/${patchbayVersion()}`, dbHealth, journal });
    const writes = journal;
    const health = dbHealth;

    const control = new CallControl(sip.calls, sip.annotations);
    const sipServicesForDryRun = sip;
    const location = sip.location;
    const showBinding = (b: ReturnType<typeof location.get> & object): ApiBinding => ({
      id: b.id,
      contact: b.contactUri,
      sourceAddress: `${b.source.address}:${b.source.port}`,
      transport: b.source.transport,
      userAgent: b.userAgent ?? null,
      expiresAt: b.expiresAt,
    });
    const session = sessionSettingsFromEnv(process.env);
    const firstRun = new FirstRunSetup({ db, dataDir: config.dataDir });
    const setupToken = await firstRun.prepare();
    const jobs = new ScheduledJobs(db, jobSettingsFromEnv(process.env, config.dataDir), logger.child({ component: 'jobs' }));
    jobs.start();
    stopJobs = () => jobs.stop();
    const { app } = createApi({
      db,
      version: patchbayVersion(),
      startedAt,
      logger,
      calls: control,
      dryRun: (params) => sipServicesForDryRun.calls.dryRun(params),
      events,
      jobs,
      health: {
        components() {
          const j = writes.stats();
          const db = health.state();
          return {
            ...(!db.reachable && { database: { status: 'degraded' as const, detail: `unreachable: ${db.lastError ?? 'unknown'}` } }),
            journal: j.full
              ? { status: 'degraded' as const, detail: `full: ${j.dropped} writes dropped`, pending: j.pending }
              : { status: 'ok' as const, pending: j.pending },
          };
        },
      },
      trustProxy: /^(1|true|yes|on)$/i.test(process.env['PATCHBAY_HTTP_TRUST_PROXY'] ?? ''),
      session,
      firstRun,
      liveBindings: {
        list: (accountId) => [...location.all()].filter((b) => b.accountId === accountId).map(showBinding),
        remove: (bindingId) => location.remove(bindingId, 'admin'),
      },
    });
    // Prometheus metrics only with a token: nothing is counted for a scraper nobody configured.
    let metrics: MetricsHandler | undefined;
    let stopMetrics: (() => void) | undefined;
    const metricsToken = config.metrics?.token;
    if (metricsToken) {
      // prom-client loads only for a configured scraper: without a token nothing is counted.
      const { createMetricsHandler, createSwitchMetrics } = await import('../web/metrics/index.ts');
      const wired = wireMetrics(createSwitchMetrics, sip, () => eventHubRef?.stats() ?? { clients: 0, resyncs: 0, slowCloses: 0, staleResumes: 0 }, events);
      metrics = createMetricsHandler({ registry: wired.metrics.registry, token: metricsToken });
      stopMetrics = wired.stop;
    }
    http = createHttpServer({ api: app, metrics });

    const presence = new ExtensionPresence({
      bus: events,
      bindings: location.all(),
      loadTenant: (tenantId) => allAccountsOf(db, tenantId),
      onSyncError: (tenantId, error) => logger.warn({ tenantId, err: error instanceof Error ? error.message : String(error) }, 'presence: cannot re-read the accounts of a tenant'),
    });
    presence.addAccounts(await db.accounts.listAll());
    sip.subscriptions.extensions = presence;
    const eventHub: EventHub = createEventHub({
      bus: events,
      authenticate: (req) => authenticateRequest(db, req, { session }),
      snapshot: {
        calls: (tenantId) => control.list(tenantId),
        registrations: (tenantId) => registrationsOf(location.all(), tenantId),
        extensions: (tenantId) => presence.list(tenantId),
        parking: (tenantId) => control.parking(tenantId).map((p) => ({ slot: p.slot, callId: p.callId, parkedAt: p.parkedAt, caller: { uri: p.party }, parkedBy: p.parkedBy })),
      },
      // A member sees the accounts that are theirs (sip_accounts.owner_user_id).
      memberAccounts: async (user) =>
        user.tenantId === null ? [] : (await db.accounts.listPage({ tenantId: user.tenantId, ownerUserId: user.id, limit: 1000 })).map((a) => a.username),
      tenantExists: async (tenantId) => (await db.tenants.get(tenantId)) !== undefined,
      trace: new SipTraceTap({ stack: sip.stack, owners: sip.calls, registrations: location, bus: events }),
      limits: opts.eventHubLimits,
      logger: logger.child({ component: 'events' }),
    });
    eventHubRef = eventHub;
    http.onUpgrade(EVENTS_PATH, (req, socket, head) => eventHub.handleUpgrade(req, socket, head));
    const address = await http.listen(config.http.port, config.http.host);
    const httpAddress = { host: address.address, port: address.port };
    logger.info({ transport: 'http', host: httpAddress.host, port: httpAddress.port }, `HTTP API listening on http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);

    // The token goes in the fragment: browsers never send it to the server in a request line or a Referer.
    const shownHost = ['0.0.0.0', '::'].includes(httpAddress.host) ? 'localhost' : httpAddress.host.includes(':') ? `[${httpAddress.host}]` : httpAddress.host;
    const setupUrl = setupToken === null ? null : `http://${shownHost}:${httpAddress.port}/setup#token=${setupToken}`;
    if (setupUrl) logger.warn({ setup: true }, `First run: no web user yet. Create the operator account at ${setupUrl} (one-time link; also in ${config.dataDir}/setup-token; \`patchbay user add\` works too)`);

    const heapTrim = startIdleHeapTrim({
      onError: (err) => logger.warn({ err }, 'idle heap trim is off (a collection or a heap reading failed)'),
      onTrim: (r) => logger.debug({ heapBeforeMiB: Math.round(r.beforeBytes / 1048576), heapAfterMiB: Math.round(r.afterBytes / 1048576), ms: Math.round(r.ms) }, 'idle: heap trimmed'),
    });

    let closing: Promise<void> | undefined;
    const server = http;
    const sipServices = sip;
    return {
      db,
      httpAddress,
      logger,
      events,
      sip: sipServices,
      sipListening: sipServices.listening(),
      eventHub,
      http: server,
      setupUrl,
      close() {
        closing ??= (async () => {
          heapTrim.stop();
          stopMetrics?.();
          await eventHub.close();
          presence.close();
          await server.close();
          await stopJobs?.();
          // SIP first flushes its write-behind (bindings) before the database goes away.
          await sipServices.close();
          await writes.close();
          dbHealth?.close();
          await db.close();
          logger.info('stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await http?.close();
    await stopJobs?.().catch(() => {});
    await sip?.close().catch(() => {});
    await journal?.close().catch(() => {});
    dbHealth?.close();
    await db.close().catch(() => {});
    throw err;
  }
}

/** The metrics registry over the running services' own counts; `stop` detaches what it hooked. */
/** Every account of one tenant, a page at a time (the switchboard lists them all). */
async function allAccountsOf(db: Database, tenantId: number): Promise<PresenceAccount[]> {
  const out: PresenceAccount[] = [];
  for (let afterId: number | undefined; ;) {
    const page = await db.accounts.listPage({ tenantId, limit: 1000, ...(afterId !== undefined && { afterId }) });
    out.push(...page);
    if (page.length < 1000) return out;
    afterId = page[page.length - 1]!.id;
  }
}

function wireMetrics(
  createSwitchMetrics: typeof import('../web/metrics/index.ts').createSwitchMetrics,
  sip: SipServices,
  eventStream: () => ReturnType<EventHub['stats']>,
  events: EventBus,
): { metrics: SwitchMetrics; stop(): void } {
  const calls = { started: 0, answered: 0, failed: 0 };
  const unsubscribe = events.subscribe({ types: ['call.created', 'call.answered', 'call.ended'] }, (e) => {
    if (e.type === 'call.created') calls.started++;
    else if (e.type === 'call.answered') calls.answered++;
    // An answered call ends with 200; anything else ended unanswered with that failure.
    else if (e.type === 'call.ended' && e.status >= 300) calls.failed++;
  });
  const { stack, sandbox, location, authGuard } = sip;
  const metrics = createSwitchMetrics({
    sipTraffic: {
      methods: [...COUNTED_SIP_METHODS, 'other'],
      statusClasses: SIP_STATUS_CLASSES,
      in: stack.traffic.in,
      out: stack.traffic.out,
    },
    transactions: () => stack.transactionCount,
    dialogs: () => sip.calls.tableSizes.dialogs,
    calls: () => ({ live: sip.calls.tableSizes.calls, ...calls }),
    registrations: () => location.size,
    shed: () => ({ calls: sip.calls.tableSizes.admissionRefusals, sandbox: sandbox.shed, transactions: stack.securityCounters.overflowRejects }),
    bans: () => authGuard.bans().length,
    sandboxQueued: () => sandbox.queued,
    sandboxWorkerPid: () => sandbox.pid,
    eventStream,
  });
  sandbox.onExecution = (report) => metrics.observeSandboxExecution(report.busySeconds, report.outcome);
  return {
    metrics,
    stop() {
      unsubscribe();
      sandbox.onExecution = undefined;
    },
  };
}
