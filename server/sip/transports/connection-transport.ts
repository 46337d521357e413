import net from 'node:net';
import type { Endpoint } from '../message.ts';
import { ConnectionTable, type TableConnection } from './connection-table.ts';
import type { Transport, TransportEvents } from './transport.ts';

export interface TlsSettings {
  cert: string;
  key: string;
  /** Extra trust anchors for outgoing TLS (e.g. a private CA). */
  ca?: string | string[];
  /** Verify the peer certificate on outgoing TLS connections; default true. */
  rejectUnauthorized?: boolean;
}

export type ConnectionTransportKind = 'tcp' | 'tls' | 'ws' | 'wss';

export interface ConnectionTransportOptions<K extends ConnectionTransportKind> {
  kind: K;
  host: string;
  port: number;
  tls?: TlsSettings;
  idleTimeoutMs?: number;
  events: TransportEvents;
}

/**
 * What the connection-oriented transports (TCP, TLS, WS, WSS) share: their options, the table of
 * open connections, binding the listener, and reporting a connection once it has closed.
 */
export abstract class ConnectionTransport<
  K extends ConnectionTransportKind,
  C extends TableConnection,
  O extends ConnectionTransportOptions<K>,
> implements Transport
{
  readonly kind: K;
  readonly reliable = true;
  local: Endpoint;
  protected readonly connections = new ConnectionTable<C>();

  protected constructor(protected readonly opts: O) {
    this.kind = opts.kind;
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
