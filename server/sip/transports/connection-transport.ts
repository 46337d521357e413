import net from 'node:net';
import type { Endpoint } from '../message.ts';
import { ConnectionTable, type TableConnection } from './connection-table.ts';
import type { Transport, TransportEvents } from './transport.ts';

function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export interface TlsSettings {
  cert: string;
  key: string;
  /** Extra trust anchors for outgoing TLS (e.g. a private CA). */
  ca?: string | string[];
  /** Verify the peer certificate on outgoing TLS connections; default true. */
  rejectUnauthorized?: boolean;
}

export type ConnectionTransportKind = 'tcp' | 'tls' | 'ws' | 'wss';

/** Bounds a stranger must not be able to push past (DESIGN: every table a stranger can grow). */
export interface ConnectionLimits {
  /** Open inbound connections from one address. Default 50. */
  maxPerSource?: number;
  /** Open inbound connections on this listener. Default 10 000. */
  maxTotal?: number;
  /**
   * A new inbound connection must deliver a whole SIP message within this, and a message once
   * begun must be complete within this (slowloris). Default 10 s.
   */
  firstMessageTimeoutMs?: number;
}

export const DEFAULT_IDLE_CONNECTION_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_PER_SOURCE = 50;
const DEFAULT_MAX_TOTAL = 10_000;
const DEFAULT_FIRST_MESSAGE_TIMEOUT_MS = 10_000;

export interface ConnectionTransportOptions<K extends ConnectionTransportKind> {
  kind: K;
  host: string;
  port: number;
  tls?: TlsSettings;
  /** No whole message and no CRLF keep-alive (either way) for this long closes it. Default 300 s. */
  idleTimeoutMs?: number;
  limits?: ConnectionLimits;
  events: TransportEvents;
}

/** What the deadline sweep knows about a connection; the transports update it. */
export interface ConnectionActivity {
  /** We accepted it (the peer must speak first), as opposed to one we opened. */
  inbound: boolean;
  openedAt: number;
  /** Last whole message or keep-alive received, or message sent. */
  lastActivity: number;
  gotMessage: boolean;
  /** When the bytes of an unfinished message started arriving. */
  partialSince: number | undefined;
}

/**
 * What the connection-oriented transports (TCP, TLS, WS, WSS) share: their options, the table of
 * open connections, binding the listener, and reporting a connection once it has closed.
 */
export abstract class ConnectionTransport<
  K extends ConnectionTransportKind,
  C extends TableConnection & { activity: ConnectionActivity },
  O extends ConnectionTransportOptions<K>,
> implements Transport
{
  readonly kind: K;
  readonly reliable = true;
  local: Endpoint;
  protected readonly connections = new ConnectionTable<C>();
  protected readonly idleTimeoutMs: number;
  protected readonly firstMessageTimeoutMs: number;
  private readonly maxPerSource: number;
  private readonly maxTotal: number;
  /** Inbound sockets (raw, before any TLS/WebSocket handshake) per source address. */
  private readonly inboundBySource = new Map<string, number>();
  private inboundTotal = 0;
  private sweepTimer: NodeJS.Timeout | undefined;

  protected constructor(protected readonly opts: O) {
    this.kind = opts.kind;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_CONNECTION_TIMEOUT_MS;
    this.firstMessageTimeoutMs = opts.limits?.firstMessageTimeoutMs ?? DEFAULT_FIRST_MESSAGE_TIMEOUT_MS;
    this.maxPerSource = opts.limits?.maxPerSource ?? DEFAULT_MAX_PER_SOURCE;
    this.maxTotal = opts.limits?.maxTotal ?? DEFAULT_MAX_TOTAL;
    this.local = { transport: opts.kind, address: opts.host, port: opts.port };
    if ((opts.kind === 'tls' || opts.kind === 'wss') && !opts.tls) {
      throw new Error(`${opts.kind.toUpperCase()} transport needs tls.cert and tls.key`);
    }
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  hasConnection(target: Endpoint): boolean {
    return this.connections.has(target);
  }

  abstract listen(): Promise<Endpoint>;
  abstract send(data: Buffer, target: Endpoint): Promise<void>;
  abstract close(): Promise<void>;
  /** Closes a connection the sweep gave up on. */
  protected abstract drop(conn: C): void;

  /** Open inbound sockets from `address` (tests, metrics). */
  inboundFrom(address: string): number {
    return this.inboundBySource.get(address) ?? 0;
  }

  protected newActivity(inbound: boolean): ConnectionActivity {
    const now = Date.now();
    return { inbound, openedAt: now, lastActivity: now, gotMessage: false, partialSince: undefined };
  }

  /**
   * Counts every accepted socket at the TCP level, before TLS or the WebSocket upgrade, so a
   * flood of half-open handshakes is bounded too. Prepended, so a refused socket is destroyed
   * before the server's own handler does any work on it.
   */
  protected limitInbound(server: net.Server): void {
    server.prependListener('connection', (socket: net.Socket) => {
      const address = stripMapped(socket.remoteAddress ?? '');
      const count = this.inboundBySource.get(address) ?? 0;
      if (count >= this.maxPerSource || this.inboundTotal >= this.maxTotal) {
        socket.destroy();
        return;
      }
      this.inboundBySource.set(address, count + 1);
      this.inboundTotal++;
      socket.once('close', () => {
        this.inboundTotal--;
        const left = (this.inboundBySource.get(address) ?? 1) - 1;
        if (left > 0) this.inboundBySource.set(address, left);
        else this.inboundBySource.delete(address);
      });
    });
  }

  /**
   * One shared timer for every connection's deadlines (DESIGN: a few shared timers, not one per
   * socket): no first message in time, a message begun but not finished in time, or idle.
   */
  protected startSweep(): void {
    if (this.sweepTimer) return;
    const period = Math.max(50, Math.min(1000, Math.floor(this.firstMessageTimeoutMs / 4)));
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), period);
    this.sweepTimer.unref();
  }

  protected stopSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private sweep(now: number): void {
    for (const conn of [...this.connections.values()]) {
      const a = conn.activity;
      const silentNewcomer = a.inbound && !a.gotMessage && now - a.openedAt > this.firstMessageTimeoutMs;
      const stuckMessage = a.partialSince !== undefined && now - a.partialSince > this.firstMessageTimeoutMs;
      const idle = now - a.lastActivity > this.idleTimeoutMs;
      if (silentNewcomer || stuckMessage || idle) this.drop(conn);
    }
  }

  /**
   * Binds `server` to the configured host and port; `local` then carries the bound port. A bind
   * failure rejects; later server errors go to `onError`. An IPv6 host listens on IPv6 only.
   */
  protected bind(server: net.Server): Promise<Endpoint> {
    const { host, port } = this.opts;
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error) => reject(err);
      server.once('error', onBindError);
      server.listen({ host, port, ipv6Only: net.isIPv6(host) }, () => {
        server.off('error', onBindError);
        server.on('error', (err) => this.opts.events.onError?.(err));
        const addr = server.address() as net.AddressInfo;
        this.local = { transport: this.kind, address: host, port: addr.port };
        resolve(this.local);
      });
    });
  }

  /** Called on a connection's close; reports it unless the transport already dropped it. */
  protected forget(conn: C): void {
    if (this.connections.remove(conn)) this.opts.events.onConnectionClosed?.(conn.id);
  }
}
