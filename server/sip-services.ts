import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { EventBus } from './events/index.ts';
import { CidrSet, DbAccountDirectory, DbBindingStore, LocationService, NatKeepAlive, Registrar } from './registrar/index.ts';
import { RequestDispatcher } from './request-dispatcher.ts';
import { CallService, parseParkSlots } from './calls/index.ts';
import { DbDialplanStore, callAccountsFrom, cdrSinkFor } from './calls/index.ts';
import { SandboxSupervisor } from '../sandbox/index.ts';
import { AuthFailureGuard, DigestServer, type AuthGuard } from './sip/index.ts';
import { SipStack, type ListenSpec } from './sip/index.ts';

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
  const stack = new SipStack({
    listen: config.sip.listen,
    tls,
    publicAddress: config.sip.publicAddress,
    udpReceiveBufferBytes: config.sip.udpReceiveBufferBytes,
    idleConnectionTimeoutMs: config.security.idleConnectionTimeoutSec * 1000,
    maxServerTransactions: config.security.maxServerTransactions,
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
  const trusted = new CidrSet(config.security.trustedNetworks);
  const authGuard = new AuthFailureGuard({
    sourceLimit: config.security.authFailuresPerSource,
    accountLimit: config.security.authFailuresPerAccount,
    banMs: config.security.authBanSec * 1000,
    isExempt: (address) => trusted.contains(address),
    logger: logger.child({ component: 'auth' }),
  });
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
  const calls = new CallService({
    stack,
    authGuard,
    location,
    accounts: callAccountsFrom(directory),
    digest,
    sandbox,
    dialplans: new DbDialplanStore(db),
    kv: db.kv,
    cdrs,
    emit: (event) => events.emit(event),
    logger: callLogger,
    publicAddress: config.sip.publicAddress,
    allowedLegNetworks: config.calls.allowedLegNetworks,
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

  for (const l of stack.listening()) {
    logger.info({ transport: l.transport, host: l.host, port: l.port }, `SIP listening on ${l.transport}:${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`);
  }
  logger.info({ bindings: restored, accounts: directory.accountCount }, 'registrar ready');

  let closing: Promise<void> | undefined;
  return {
    stack,
    location,
    directory,
    calls,
    sandbox,
    authGuard,
    listening: () => stack.listening(),
    close() {
      closing ??= (async () => {
        keepAlive.stop();
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
