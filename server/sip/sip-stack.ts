import { CallCredentialStore, type ClientCredentials } from './call-credentials.ts';
import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';
import { findHeaderEnd, parseMessage } from './parser.ts';
import { SipParseError } from './parse-error.ts';
import { createResponse, newBranch, newTag, SipRequest, SipResponse, type Endpoint, type SipMessage } from './message.ts';
import { parseNameAddr } from './name-addr.ts';
import { parseVia, formatVia, type Via } from './via.ts';
import type { SipUri } from './uri.ts';
import { formatHost, uriTransport } from './uri.ts';
import { TimerWheel, type Clock } from './timer-wheel.ts';
import { resolveTimers, type TimerSettings, type TransactionTimers } from './transactions/timer-settings.ts';
import type {
  ClientTransaction,
  ClientTransactionHandler,
  ServerTransaction,
  TransactionChannel,
  TransactionContext,
} from './transactions/transaction.ts';
import { InviteClientTransaction } from './transactions/invite-client-transaction.ts';
import { NonInviteClientTransaction } from './transactions/non-invite-client-transaction.ts';
import { InviteServerTransaction } from './transactions/invite-server-transaction.ts';
import { NonInviteServerTransaction } from './transactions/non-invite-server-transaction.ts';
import { StatelessRejectServerTransaction } from './transactions/stateless-reject-server-transaction.ts';
import type { LingeringTransaction } from './transactions/lingering-transaction.ts';
import { buildCancel } from './transactions/request-builders.ts';
import { CRLFCRLF, type Transport, type TransportEvents, type TransportKind } from './transports/transport.ts';
import { DEFAULT_UDP_RECEIVE_BUFFER_BYTES, UdpTransport } from './transports/udp-transport.ts';
import { StreamTransport, type TlsSettings } from './transports/stream-transport.ts';
import { WsTransport, type WsTransportOptions } from './transports/ws-transport.ts';
import type { ConnectionLimits } from './transports/connection-transport.ts';
import { SipTrafficCounters } from './traffic-counters.ts';

export type { ClientTransaction, ClientTransactionHandler, ServerTransaction } from './transactions/transaction.ts';
export type { TimerSettings } from './transactions/timer-settings.ts';
export type { TlsSettings } from './transports/stream-transport.ts';

export interface ListenSpec {
  transport: TransportKind;
  host: string;
  port: number;
}

/** A transport the stack does not create itself (tests: MemoryTransport). */
export interface AttachableTransport extends Transport {
  attach(events: TransportEvents): void;
}

export interface SipStackOptions {
  listen: ListenSpec[];
  tls?: TlsSettings;
  /** Host written into Via sent-by of requests we originate (NAT / public address). */
  publicAddress?: string;
  udpReceiveBufferBytes?: number;
  logger: Logger;
  userAgent?: string;
  idleConnectionTimeoutMs?: number;
  /**
   * Live server transactions beyond which a new request gets a stateless 503 with Retry-After
   * instead of a table entry. Default 100 000.
   */
  maxServerTransactions?: number;
  /**
   * Out-of-dialog requests (no To tag) are refused statelessly: a non-2xx final goes out once,
   * with no retransmission and no table entry left behind (StatelessRejectServerTransaction, and
   * InviteServerTransaction's stateless window for INVITE). Default true; false gives plain
   * RFC 3261 transactions for every request.
   */
  statelessRejects?: boolean;
  /**
   * How long a new out-of-dialog INVITE's 100 Trying is held back so that a quick refusal (a
   * challenge, 403, 404…) can go out statelessly instead. Default 200 ms (RFC 3261 §17.2.1).
   */
  statelessRejectWindowMs?: number;
  /** Per-source request rate limit; a request over it is dropped before anything else happens. */
  rateLimiter?: { allow(address: string): boolean };
  /** Per-source and total caps and the first-message deadline of TCP/TLS/WS connections. */
  connectionLimits?: ConnectionLimits;
  timers?: TimerSettings;
  onTrace?: (dir: 'in' | 'out', data: Buffer, remote: Endpoint) => void;
  /** Extra, already constructed transports (the in-memory fake in tests). */
  transports?: AttachableTransport[];
  /** Time source of the shared timer wheel (tests: ManualClock). */
  clock?: Clock;
}

/**
 * Sees every SIP message the stack sends or receives, as the bytes on the wire (the live SIP
 * trace). Unset, it costs one property check per message.
 */
export type TrafficObserver = (direction: 'in' | 'out', data: Buffer, remote: Endpoint, local: Endpoint) => void;

type ClientTx = InviteClientTransaction | NonInviteClientTransaction | LingeringTransaction;
type ServerTx = InviteServerTransaction | NonInviteServerTransaction | StatelessRejectServerTransaction | LingeringTransaction;

const MAGIC_COOKIE = 'z9hG4bK';

function defaultPort(kind: TransportKind): number {
  return kind === 'tls' || kind === 'wss' ? 5061 : 5060;
}

function isStreamKind(kind: TransportKind): boolean {
  return kind !== 'udp';
}

function familyOf(address: string): 4 | 6 {
  return net.isIPv6(address) ? 6 : 4;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * The SIP stack: transports (RFC 3261 §18), the transaction layer (§17) and the glue that
 * routes responses (§18.2.2, RFC 3581) and CANCELs (§9.2). The core (registrar, B2BUA) sees
 * requests through `onRequest` and sends through `sendRequest`/`sendStateless`.
 */
export class SipStack {
  /** Core handler for new requests (not retransmissions). ACK for 2xx and CANCEL arrive too. */
  onRequest: (req: SipRequest, tx: ServerTransaction | undefined) => void = () => {};
  /**
   * Responses that match no client transaction, e.g. a 2xx to INVITE retransmitted after Timer M
   * (§13.2.2.4) — and, within Timer M, the further 2xx of a TU that has no `onAccepted2xx`.
   */
  onStrayResponse?: (res: SipResponse) => void;

  readonly wheel: TimerWheel;
  readonly timers: TransactionTimers;
  /** Set only while someone watches the trace; must not throw or block (it runs on the SIP path). */
  trafficObserver: TrafficObserver | undefined;
  /** Messages on the wire by direction, method and status class (the operator's metrics read them). */
  readonly traffic = new SipTrafficCounters();
  private readonly opts: SipStackOptions;
  private readonly logger: Logger;
  private transports: Transport[] = [];
  private readonly transportOf = new Map<Transport, TransportEvents>();
  private readonly clientTxs = new Map<string, ClientTx>();
  private readonly serverTxs = new Map<string, ServerTx>();
  private readonly clientCtx: TransactionContext;
  private readonly serverCtx: TransactionContext;
  private running = false;
  private readonly counters = { statelessFinals: 0, overflowRejects: 0, rateLimited: 0 };

  constructor(opts: SipStackOptions) {
    this.opts = opts;
    this.logger = opts.logger;
    this.timers = resolveTimers(opts.timers);
    this.wheel = new TimerWheel({
      clock: opts.clock,
      onError: (err) => this.logger.error({ err }, 'SIP timer callback threw'),
    });
    const base = { wheel: this.wheel, timers: this.timers, logger: this.logger };
    this.clientCtx = { ...base, ...tableHooks(this.clientTxs) };
    this.serverCtx = { ...base, ...tableHooks(this.serverTxs) };
  }

  /** Live transaction counts (diagnostics, tests). */
  get transactionCount(): { client: number; server: number } {
    return { client: this.clientTxs.size, server: this.serverTxs.size };
  }

  /**
   * What the flood defences did since start: finals sent statelessly, requests refused with 503
   * because the transaction table was full, requests dropped by the rate limiter.
   */
  get securityCounters(): { statelessFinals: number; overflowRejects: number; rateLimited: number } {
    return { ...this.counters };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const created: Transport[] = [];
    for (const spec of this.opts.listen) {
      const t = this.createTransport(spec);
      created.push(t);
    }
    for (const t of this.opts.transports ?? []) {
      t.attach(this.eventsFor(t));
      created.push(t);
    }
    try {
      for (const t of created) await t.listen();
    } catch (err) {
      await Promise.allSettled(created.map((t) => t.close()));
      throw err;
    }
    this.transports = created;
    this.running = true;
    const wanted = this.opts.udpReceiveBufferBytes ?? DEFAULT_UDP_RECEIVE_BUFFER_BYTES;
    for (const t of created) {
      const got = t instanceof UdpTransport ? t.receiveBufferBytes : undefined;
      if (got !== undefined && got < wanted) {
        this.logger.warn({ wanted, got, listen: t.local }, 'UDP receive buffer smaller than configured; raise net.core.rmem_max');
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wheel.clear();
    this.clientTxs.clear();
    this.serverTxs.clear();
    const ts = this.transports;
    this.transports = [];
    await Promise.allSettled(ts.map((t) => t.close()));
  }

  listening(): ListenSpec[] {
    return this.transports.map((t) => ({ transport: t.kind, host: t.local.address, port: t.local.port }));
  }

  /**
   * The host:port to put in Via/Contact for a transport kind (publicAddress if configured).
   * Returns undefined when the stack does not listen on that kind.
   */
  localAddressFor(kind: TransportKind, family?: 4 | 6): { host: string; port: number } | undefined {
    const t = this.pickTransport(kind, family);
    if (!t) return undefined;
    return { host: this.advertisedHost(t), port: t.local.port };
  }

  /**
   * Sends a request in a new client transaction (RFC 3261 §17.1). The next hop is `target`, or
   * the first Route URI (loose routing), or the Request-URI (`;transport=`, sips → TLS). A top
   * Via with `;rport` (RFC 3581) and a fresh branch is added unless the caller supplied one.
   */
  sendRequest(req: SipRequest, opts: { target?: Endpoint; handler?: ClientTransactionHandler; credentials?: ClientCredentials } = {}): ClientTransaction {
    const handler = this.withAccepted2xx(req, opts.handler ?? {});
    if (opts.credentials && req.method !== 'ACK' && req.method !== 'CANCEL') this.callCredentials.register(req.callId, opts.credentials, req.cseq.seq);
    if (this.callCredentials.size > 0 && req.method !== 'ACK') {
      const authed = this.callCredentials.send(req, handler, (r, h) => this.sendOne(r, { target: opts.target, handler: h }));
      if (authed) return authed;
    }
    return this.sendOne(req, { target: opts.target, handler });
  }

  /**
   * An INVITE's TU that does not follow the 2xx of its Accepted transaction (RFC 6026 §7.2) gets
   * them as before Timer M existed: as stray responses, which `onStrayResponse` re-ACKs.
   */
  private withAccepted2xx(req: SipRequest, handler: ClientTransactionHandler): ClientTransactionHandler {
    if (req.method !== 'INVITE' || handler.onAccepted2xx) return handler;
    return { ...handler, onAccepted2xx: (res) => this.passStray(res) };
  }

  /** Credentials kept for the Call-IDs of requests sent with `credentials` (digest answered there). */
  readonly callCredentials = new CallCredentialStore();

  private sendOne(req: SipRequest, opts: { target?: Endpoint; handler: ClientTransactionHandler }): ClientTransaction {
    const handler = opts.handler;
    if (req.method === 'ACK') throw new Error('ACK is not sent in a transaction: use sendStateless');
    let branch: string;
    const hasVia = req.headers.has('Via');
    if (hasVia) {
      branch = req.topVia.branch ?? newBranch();
      if (!req.topVia.branch) this.rewriteTopVia(req, { ...req.topVia, branch });
    } else {
      branch = newBranch();
    }
    if (!req.headers.has('Max-Forwards')) req.headers.append('Max-Forwards', '70');
    if (this.opts.userAgent && !req.headers.has('User-Agent')) req.headers.append('User-Agent', this.opts.userAgent);
    const key = clientKey(branch, req.method);
    const tx =
      req.method === 'INVITE'
        ? new InviteClientTransaction(key, req, handler, this.clientCtx, (invite, channel) => this.sendCancel(invite, channel))
        : new NonInviteClientTransaction(key, req, handler, this.clientCtx);
    this.clientTxs.set(key, tx);

    void this.resolveTarget(req, opts.target).then(
      (target) => {
        if (tx.state === 'Terminated') return;
        const transport = this.transportForTarget(target);
        if (!transport) throw new Error(`no ${target.transport} transport for ${target.address}`);
        if (!hasVia) {
          const via: Via = {
            protocol: 'SIP/2.0',
            transport: transport.kind.toUpperCase(),
            host: this.advertisedHost(transport),
            port: transport.local.port,
            branch,
            rport: null,
            params: {},
          };
          req.headers.prepend('Via', formatVia(via));
        }
        tx.start(this.channelTo(transport, target));
      },
      (err: Error) => tx.onTransportError(err),
    ).catch((err: Error) => tx.onTransportError(err));
    return tx;
  }

  /** Sends a response without a transaction, routed by its top Via (RFC 3261 §18.2.2). */
  sendResponseStateless(res: SipResponse): void {
    try {
      const via = res.topVia;
      const kind = via.transport.toLowerCase() as TransportKind;
      const target: Endpoint = {
        transport: kind,
        address: via.received ?? via.host,
        port: isStreamKind(kind) ? (via.port ?? defaultPort(kind)) : typeof via.rport === 'number' ? via.rport : (via.port ?? defaultPort(kind)),
      };
      this.sendStateless(res, res.source && res.source.connectionId ? res.source : target);
    } catch (err) {
      this.logger.debug({ err }, 'stateless response not routable');
    }
  }

  /**
   * Sends one message outside any transaction: ACK for 2xx, 2xx retransmissions, relays.
   * `local` (e.g. the request's `localEndpoint`) picks the listener to send from, which matters
   * for NAT bindings when several UDP listeners exist.
   */
  sendStateless(msg: SipMessage, target: Endpoint, local?: Endpoint): void {
    const transport = this.transportForTarget(target, local);
    if (!transport) {
      this.logger.debug({ target }, 'no transport for stateless send');
      return;
    }
    this.sendOn(transport, msg.toBuffer(), target).catch((err: Error) =>
      this.logger.debug({ err: err.message, target }, 'stateless send failed'),
    );
  }

  /** RFC 5626 §4.4.1 CRLF keep-alive ping. */
  sendKeepAlive(target: Endpoint): void {
    const transport = this.transportForTarget(target);
    if (!transport) return;
    this.sendOn(transport, CRLFCRLF, target).catch(() => {});
  }

  // ---------------------------------------------------------------- transports

  private createTransport(spec: ListenSpec): Transport {
    let transport: Transport;
    const ev = this.eventsForLazy(() => transport);
    switch (spec.transport) {
      case 'udp':
        transport = new UdpTransport({ host: spec.host, port: spec.port, receiveBufferBytes: this.opts.udpReceiveBufferBytes, events: ev });
        break;
      case 'tcp':
      case 'tls':
        transport = new StreamTransport({ kind: spec.transport, ...this.connectionOptions(spec, ev) });
        break;
      case 'ws':
      case 'wss':
        transport = new WsTransport({ kind: spec.transport, ...this.connectionOptions(spec, ev) });
        break;
      default:
        throw new Error(`unknown transport ${String(spec.transport)}`);
    }
    return transport;
  }

  /** What the connection-oriented transports (TCP, TLS, WS, WSS) are all configured with. */
  private connectionOptions(spec: ListenSpec, events: TransportEvents): Omit<WsTransportOptions, 'kind'> {
    return { host: spec.host, port: spec.port, tls: this.opts.tls, idleTimeoutMs: this.opts.idleConnectionTimeoutMs, limits: this.opts.connectionLimits, events };
  }

  private eventsFor(transport: Transport): TransportEvents {
    return this.eventsForLazy(() => transport);
  }

  private eventsForLazy(get: () => Transport): TransportEvents {
    return {
      onMessage: (data, source, local) => this.receive(get(), data, source, local),
      onFramingError: (err, source) =>
        this.logger.debug({ err: err.message, remote: source }, 'stream framing error; connection closed'),
      onError: (err) => this.logger.warn({ err }, 'SIP transport error'),
    };
  }

  private pickTransport(kind: TransportKind, family?: 4 | 6): Transport | undefined {
    let fallback: Transport | undefined;
    for (const t of this.transports) {
      if (t.kind !== kind) continue;
      if (family === undefined) return t;
      if (familyOf(t.local.address) === family) return t;
      fallback ??= t;
    }
    // A stream transport can connect over either family whatever it listens on.
    return isStreamKind(kind) ? fallback : undefined;
  }

  private transportForTarget(target: Endpoint, local?: Endpoint): Transport | undefined {
    if (local) {
      for (const t of this.transports) {
        if (t.kind === target.transport && t.local.port === local.port && t.local.address === local.address) return t;
      }
    }
    if (target.connectionId) {
      for (const t of this.transports) if (t.kind === target.transport && t.hasConnection?.(target)) return t;
    }
    return this.pickTransport(target.transport, familyOf(target.address));
  }

  private advertisedHost(t: Transport): string {
    if (this.opts.publicAddress) return this.opts.publicAddress;
    if (!isWildcard(t.local.address)) return t.local.address;
    const want = t.local.address === '::' ? 'IPv6' : 'IPv4';
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal && a.family === want) return a.address;
    }
    return want === 'IPv6' ? '::1' : '127.0.0.1';
  }

  private sendOn(transport: Transport, data: Buffer, target: Endpoint): Promise<void> {
    this.opts.onTrace?.('out', data, target);
    this.traffic.count('out', data);
    if (this.trafficObserver) this.observe('out', data, target, transport.local);
    return transport.send(data, target);
  }

  private channelTo(transport: Transport, target: Endpoint, fallback?: Endpoint): TransactionChannel {
    return {
      reliable: transport.reliable,
      send: async (data) => {
        try {
          await this.sendOn(transport, data, target);
        } catch (err) {
          // §18.2.2: the connection is gone; open a new one to received/sent-by port.
          if (!fallback) throw err;
          await this.sendOn(transport, data, fallback);
        }
      },
    };
  }

  private observe(direction: 'in' | 'out', data: Buffer, remote: Endpoint, local: Endpoint): void {
    try {
      this.trafficObserver?.(direction, data, remote, local);
    } catch (err) {
      this.logger.error({ err }, 'traffic observer threw');
    }
  }

  // ---------------------------------------------------------------- receive path

  /** Entry point of every received message; never throws (DESIGN: the process lives on). */
  private receive(transport: Transport, data: Buffer, source: Endpoint, local: Endpoint): void {
    try {
      this.opts.onTrace?.('in', data, source);
      this.traffic.count('in', data);
      if (this.trafficObserver) this.observe('in', data, source, local);
      let msg: SipMessage;
      try {
        msg = parseMessage(data);
      } catch (err) {
        if (err instanceof SipParseError) this.answerMalformed(transport, data, err.status, err.reason, source);
        else this.logger.debug({ err, remote: source }, 'unparseable SIP message dropped');
        return;
      }
      msg.source = source;
      msg.localEndpoint = local;
      if (msg instanceof SipResponse) this.receiveResponse(msg);
      else this.receiveRequest(transport, msg);
    } catch (err) {
      this.logger.error({ err, remote: source }, 'SIP receive path failed');
    }
  }

  private receiveResponse(res: SipResponse): void {
    const branch = res.topVia.branch;
    const tx = branch ? this.clientTxs.get(clientKey(branch, res.cseq.method)) : undefined;
    if (tx) {
      tx.receiveResponse(res);
      return;
    }
    this.passStray(res);
  }

  private passStray(res: SipResponse): void {
    if (!this.onStrayResponse) return;
    try {
      this.onStrayResponse(res);
    } catch (err) {
      this.logger.error({ err }, 'onStrayResponse threw');
    }
  }

  private receiveRequest(transport: Transport, req: SipRequest): void {
    const source = req.source!;
    // Before any work, retransmissions included: pike counts every request a source sends.
    if (this.opts.rateLimiter && !this.opts.rateLimiter.allow(source.address)) {
      this.counters.rateLimited++;
      return;
    }
    this.stampVia(req, source);
    const key = serverKey(req);

    if (req.method === 'ACK') {
      // An Accepted INVITE transaction is a LingeringTransaction: its 2xx ACK goes to the core.
      const inviteTx = this.serverTxs.get(key);
      if (inviteTx instanceof InviteServerTransaction && inviteTx.state !== 'Accepted') {
        inviteTx.receiveAck(); // §17.2.1: ACK for a non-2xx belongs to the transaction
        return;
      }
      this.deliver(req, undefined);
      return;
    }

    const existing = this.serverTxs.get(key);
    if (existing) {
      existing.receiveRetransmission();
      return;
    }

    const channel = this.responseChannel(transport, req);
    if (this.serverTxs.size >= (this.opts.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS)) {
      this.refuseOverflow(req, channel);
      return;
    }
    const stateless = this.opts.statelessRejects ?? true;
    const outOfDialog = req.to.params.tag === undefined;
    const countStateless = () => void this.counters.statelessFinals++;
    // In a dialog only 481 (no such dialog: a forged or stale request) is safe to answer twice;
    // everything else there keeps RFC 3261 state. Out of dialog every refusal is stateless, and an
    // OPTIONS 200 too (answering a retransmitted OPTIONS again changes nothing).
    const onlyNoDialog = (status: number) => status === 481;
    if (req.method === 'INVITE') {
      const tx = new InviteServerTransaction(key, req, channel, this.serverCtx, stateless ? {
        statelessRejectWindowMs: outOfDialog ? (this.opts.statelessRejectWindowMs ?? DEFAULT_STATELESS_REJECT_WINDOW_MS) : 0,
        isStatelessFinal: outOfDialog ? undefined : onlyNoDialog,
        onStatelessFinal: countStateless,
      } : {});
      this.serverTxs.set(key, tx);
      tx.start();
      this.deliver(req, tx);
      if (stateless && !outOfDialog) tx.releaseTrying();
      return;
    }

    if (req.method === 'CANCEL') {
      this.receiveCancel(req, key, channel);
      return;
    }

    if (stateless) {
      const isStateless = !outOfDialog ? onlyNoDialog : req.method === 'OPTIONS' ? () => true : undefined;
      const pending: StatelessRejectServerTransaction = new StatelessRejectServerTransaction(key, req, channel, this.serverCtx, () => {
        const tx = new NonInviteServerTransaction(key, req, channel, this.serverCtx);
        if (this.serverTxs.get(key) === pending || !this.serverTxs.has(key)) this.serverTxs.set(key, tx);
        return tx;
      }, { isStateless, onStatelessFinal: countStateless });
      this.serverTxs.set(key, pending);
      this.deliver(req, pending);
      return;
    }
    const tx = new NonInviteServerTransaction(key, req, channel, this.serverCtx);
    this.serverTxs.set(key, tx);
    this.deliver(req, tx);
  }

  /** RFC 3261 §9.2: answer the CANCEL, let the core stop the INVITE, then 487 it if still open. */
  private receiveCancel(req: SipRequest, key: string, channel: TransactionChannel): void {
    const inviteTx = this.serverTxs.get(serverKey(req, 'INVITE'));
    // After a 2xx the INVITE transaction lingers (Accepted) without its parsed request: the
    // CANCEL still gets 200 (§9.2) but has nothing to cancel.
    const invite = inviteTx instanceof InviteServerTransaction ? inviteTx : undefined;
    if (!inviteTx && (this.opts.statelessRejects ?? true)) {
      // Matches nothing (forged, or late): one stateless 481, no table entry.
      this.counters.statelessFinals++;
      channel.send(responseTo(req, 481).toBuffer()).catch(() => {});
      return;
    }
    const tx = new NonInviteServerTransaction(key, req, channel, this.serverCtx, invite);
    this.serverTxs.set(key, tx);
    if (!inviteTx) {
      tx.respond(responseTo(req, 481));
      return;
    }
    tx.respond(responseTo(req, 200));
    if (invite?.state === 'Proceeding') {
      if (invite.onCancel) {
        try {
          invite.onCancel();
        } catch (err) {
          this.logger.error({ err, callId: req.callId }, 'onCancel threw');
        }
      }
      if (invite.state === 'Proceeding') {
        const toTag = invite.provisionalToTag ?? newTag();
        invite.respond(createResponse(invite.request, 487, undefined, { toTag }));
      }
    }
    this.deliver(req, tx);
  }

  /** Overload answer: stateless, so the full table is never the thing that grows (§21.5.4). */
  private refuseOverflow(req: SipRequest, channel: TransactionChannel): void {
    // One line for the first refusal and then every 1000th: under a flood a line each would be the next thing to drown.
    if (this.counters.overflowRejects++ % 1000 === 0) {
      this.logger.warn({ event: 'sip.overflow', table: 'transactions', method: req.method, live: this.serverTxs.size, refused: this.counters.overflowRejects }, 'server transaction table full: 503');
    }
    const res = createResponse(req, 503, 'Service Unavailable', { toTag: newTag(), headers: { 'Retry-After': String(OVERFLOW_RETRY_AFTER_SEC) } });
    channel.send(res.toBuffer()).catch(() => {});
  }

  private deliver(req: SipRequest, tx: ServerTransaction | undefined): void {
    // The far end ended a dialog whose requests we authenticated: nothing more will be challenged.
    if (req.method === 'BYE' && this.callCredentials.size > 0) this.callCredentials.forget(req.callId);
    try {
      this.onRequest(req, tx);
    } catch (err) {
      this.logger.error({ err, callId: req.callId, method: req.method }, 'onRequest threw');
      const unanswered =
        ((tx instanceof NonInviteServerTransaction || tx instanceof StatelessRejectServerTransaction) && tx.state === 'Trying') ||
        (tx instanceof InviteServerTransaction && tx.state === 'Proceeding');
      if (tx && unanswered) tx.respond(responseTo(req, 500));
    }
  }

  /** RFC 3261 §18.2.1 + RFC 3581 §4: received when the host differs or rport was asked for. */
  private stampVia(req: SipRequest, source: Endpoint): void {
    const via = req.topVia;
    const wantsRport = via.rport === null;
    if (!wantsRport && via.host === source.address) return;
    const stamped: Via = { ...via, params: { ...via.params }, received: source.address };
    if (wantsRport) stamped.rport = source.port;
    this.rewriteTopVia(req, stamped);
  }

  private rewriteTopVia(req: SipRequest, via: Via): void {
    req.headers.removeFirst('Via');
    req.headers.prepend('Via', formatVia(via));
  }

  /**
   * Where responses to a received request go (RFC 3261 §18.2.2, RFC 3581 §4): its connection
   * for TCP/TLS/WS, else the Via received/rport. The dialog layer uses it to retransmit a 2xx
   * with `sendStateless` (§13.3.1.4).
   */
  responseTargetFor(req: SipRequest): Endpoint {
    const source = req.source;
    if (!source) throw new Error('responseTargetFor needs a received request');
    if (isStreamKind(source.transport)) return { ...source };
    const via = req.topVia;
    return {
      transport: 'udp',
      address: via.received ?? via.host,
      port: typeof via.rport === 'number' ? via.rport : (via.port ?? defaultPort('udp')),
    };
  }

  private responseChannel(transport: Transport, req: SipRequest): TransactionChannel {
    const target = this.responseTargetFor(req);
    if (transport.kind === 'tcp' || transport.kind === 'tls') {
      // §18.2.2: if the connection is gone, connect to the received address and sent-by port.
      const via = req.topVia;
      const fallback: Endpoint = { transport: transport.kind, address: via.received ?? target.address, port: via.port ?? defaultPort(transport.kind) };
      return this.channelTo(transport, target, fallback);
    }
    return this.channelTo(transport, target);
  }

  private sendCancel(invite: SipRequest, channel: TransactionChannel): void {
    const cancel = buildCancel(invite);
    const key = clientKey(invite.topVia.branch ?? '', 'CANCEL');
    const tx = new NonInviteClientTransaction(key, cancel, {}, this.clientCtx);
    this.clientTxs.set(key, tx);
    tx.start(channel);
  }

  /**
   * Malformed request whose Via we can still read: answer statelessly with the parser's status
   * (400 with the reason, 505, 513) to the packet's source. Responses and hopeless input: dropped.
   */
  private answerMalformed(transport: Transport, data: Buffer, status: number, reason: string, source: Endpoint): void {
    const headerEnd = findHeaderEnd(data, 0);
    const text = data.subarray(0, headerEnd ? headerEnd[0] : Math.min(data.length, 8192)).toString('latin1');
    const lines = text.replace(/\r\n[ \t]+/g, ' ').split(/\r?\n/);
    const startLine = lines[0] ?? '';
    if (startLine.startsWith('SIP/') || /^ACK\s/i.test(startLine) || !/^[A-Za-z]+ /.test(startLine)) return;
    const pick = (names: string[]): string[] => {
      const out: string[] = [];
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        if (names.includes(name)) out.push(line.slice(colon + 1).trim());
      }
      return out;
    };
    const viaValues = pick(['via', 'v']);
    if (viaValues.length === 0) return;
    let vias: Via[];
    try {
      vias = viaValues.flatMap((v) => parseVia(v));
    } catch {
      return;
    }
    const top = vias[0]!;
    vias[0] = { ...top, params: { ...top.params }, received: source.address, rport: top.rport === null ? source.port : top.rport };
    const safeReason = reason.replace(/[\r\n]+/g, ' ').slice(0, 120) || 'Bad Request';
    let out = `SIP/2.0 ${status} ${safeReason}\r\n`;
    for (const v of vias) out += `Via: ${formatVia(v)}\r\n`;
    for (const [hdr, names] of [
      ['From', ['from', 'f']],
      ['To', ['to', 't']],
      ['Call-ID', ['call-id', 'i']],
      ['CSeq', ['cseq']],
    ] as const) {
      const v = pick([...names])[0];
      if (v !== undefined && !/[\r\n]/.test(v)) out += `${hdr}: ${v}\r\n`;
    }
    out += 'Content-Length: 0\r\n\r\n';
    // Straight back to where it came from: for a broken request that is the only sane route.
    this.sendOn(transport, Buffer.from(out, 'latin1'), source).catch(() => {});
  }

  // ---------------------------------------------------------------- next hop

  private async resolveTarget(req: SipRequest, target: Endpoint | undefined): Promise<Endpoint> {
    if (target) return target;
    let uri: SipUri = req.uri;
    const route = req.headers.getAll('Route')[0];
    if (route !== undefined) {
      const r = parseNameAddr(route);
      // Loose routing (§16.12): the next hop is the first Route; strict routers are not supported.
      if ('lr' in r.uri.params) uri = r.uri;
    }
    const kind = uriTransport(uri);
    const host = uri.params['maddr'] ?? uri.host;
    const port = uri.port ?? defaultPort(kind);
    if (net.isIP(host)) return { transport: kind, address: host, port };
    // Prefer an address family we can actually send from on that transport.
    const candidates = await dns.lookup(host, { all: true });
    const usable = candidates.find((c) => this.pickTransport(kind, c.family === 6 ? 6 : 4)) ?? candidates[0];
    if (!usable) throw new Error(`cannot resolve ${host}`);
    return { transport: kind, address: usable.address, port };
  }
}


/** How transactions tell their owner's table that they ended or were replaced by a lingering record. */
function tableHooks<T extends object>(table: Map<string, T | LingeringTransaction>): Pick<TransactionContext, 'onTerminated' | 'onLinger'> {
  return {
    onTerminated: (key, tx) => {
      if (table.get(key) === tx) table.delete(key);
    },
    onLinger: (key, tx, record) => {
      if (table.get(key) === tx) table.set(key, record);
    },
  };
}

function clientKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

/** RFC 3261 §17.2.3 (branch + sent-by + method; ACK matches INVITE), RFC 2543 fallback. */
function serverKey(req: SipRequest, methodOverride?: string): string {
  const via = req.topVia;
  const method = methodOverride ?? (req.method === 'ACK' ? 'INVITE' : req.method);
  const sentBy = `${formatHost(via.host)}:${via.port ?? ''}`;
  if (via.branch && via.branch.startsWith(MAGIC_COOKIE)) return `${via.branch}|${sentBy}|${method}`;
  return `2543|${req.callId}|${req.cseq.seq}|${req.from.params['tag'] ?? ''}|${sentBy}|${method}`;
}

const DEFAULT_MAX_SERVER_TRANSACTIONS = 100_000;
const DEFAULT_STATELESS_REJECT_WINDOW_MS = 200;
const OVERFLOW_RETRY_AFTER_SEC = 5;

function responseTo(req: SipRequest, status: number): SipResponse {
  return createResponse(req, status, undefined, status >= 200 ? { toTag: newTag() } : undefined);
}
