import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { prepareDataDir, type Config } from '../config/index.ts';
import { openDatabase, type Database } from '../db/index.ts';
import { createApiApp } from '../web/api/index.ts';
import { CallControl } from './calls/index.ts';
import { EventBus } from './events/index.ts';
import { ExtensionPresence } from './presence/index.ts';
import { bearerTokenAuthenticator, createEventHub, EVENTS_PATH, registrationsOf, SipTraceTap, type EventHub, type EventHubLimits } from '../web/ws/index.ts';
import { createLogger } from './logger.ts';
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

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** config → db (migrated) → SIP services → HTTP API. close() undoes it in reverse order. */
export async function startServer(config: Config, opts: { logger?: Logger; eventHubLimits?: Partial<EventHubLimits> } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const startedAt = Date.now();
  prepareDataDir(config.dataDir);
  const db = await openDatabase(config.db.url, { secretKey: config.secretKey });
  const events = new EventBus({ onListenerError: (err) => logger.error({ err }, 'event listener threw') });
  let sip: SipServices | undefined;
  let http: Server | undefined;
  try {
    const applied = await db.migrate();
    logger.info({ db: db.dialect, migrationsApplied: applied }, 'database ready');

    sip = await startSipServices({ config, db, logger, events, userAgent: `Patchbay/${patchbayVersion()}` });

    const control = new CallControl(sip.calls);
    const app = createApiApp({ db, version: patchbayVersion(), startedAt, logger, calls: control });
    http = createServer(app.callback());

    const location = sip.location;
    const presence = new ExtensionPresence({ bus: events, bindings: location.all() });
    presence.addAccounts(await db.accounts.listAll());
    const eventHub = createEventHub({
      bus: events,
      authenticate: bearerTokenAuthenticator(db.tokens),
      snapshot: {
        calls: (tenantId) => control.list(tenantId),
        registrations: (tenantId) => registrationsOf(location.all(), tenantId),
        extensions: (tenantId) => presence.list(tenantId),
        parking: () => [], // the calls layer has no parking yet
      },
      // No web user ↔ SIP account link exists yet: a member's stream stays empty until the API adds one.
      memberAccounts: async () => [],
      tenantExists: async (tenantId) => (await db.tenants.get(tenantId)) !== undefined,
      trace: new SipTraceTap({ stack: sip.stack, owners: sip.calls, registrations: location, bus: events }),
      limits: opts.eventHubLimits,
      logger: logger.child({ component: 'events' }),
    });
    http.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://localhost').pathname === EVENTS_PATH) eventHub.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    const address = await listen(http, config.http.host, config.http.port);
    const httpAddress = { host: address.address, port: address.port };
    logger.info({ transport: 'http', host: httpAddress.host, port: httpAddress.port }, `HTTP API listening on http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);

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
      close() {
        closing ??= (async () => {
          await eventHub.close();
          presence.close();
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
          // SIP first flushes its write-behind (bindings) before the database goes away.
          await sipServices.close();
          await db.close();
          logger.info('stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    http?.close();
    await sip?.close().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
}
