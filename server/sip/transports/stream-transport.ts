import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from '../message.ts';
import { StreamFramer } from '../stream-framer.ts';
import { CRLF, CRLFCRLF, endpointKey, type Transport, type TransportEvents } from './transport.ts';

export const DEFAULT_IDLE_CONNECTION_TIMEOUT_MS = 10 * 60 * 1000;

export interface TlsSettings {
  cert: string;
  key: string;
  /** Extra trust anchors for outgoing TLS (e.g. a private CA). */
  ca?: string | string[];
  /** Verify the peer certificate on outgoing TLS connections; default true. */
  rejectUnauthorized?: boolean;
}

export interface StreamTransportOptions {
  kind: 'tcp' | 'tls';
  host: string;
  port: number;
  tls?: TlsSettings;
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  events: TransportEvents;
}

let connectionCounter = 0;
/** Process-wide unique ids, so a connectionId never names a connection of another listener. */
export function nextConnectionId(kind: string): string {
  connectionCounter++;
  return `${kind}-${connectionCounter.toString(36)}`;
}

interface StreamConnection {
  id: string;
  socket: net.Socket;
  remote: Endpoint;
  framer: StreamFramer;
}

/** RFC 3261 §18 over TCP and TLS: Content-Length framing (§18.3), connection reuse (§18.2.2). */
export class StreamTransport implements Transport {
  readonly kind: 'tcp' | 'tls';
  readonly reliable = true;
  local: Endpoint;
  private server: net.Server | undefined;
  private readonly byId = new Map<string, StreamConnection>();
  private readonly byRemote = new Map<string, StreamConnection>();
  private readonly connecting = new Map<string, Promise<StreamConnection>>();
  private readonly opts: StreamTransportOptions;

  constructor(opts: StreamTransportOptions) {
    this.opts = opts;
    this.kind = opts.kind;
    this.local = { transport: opts.kind, address: opts.host, port: opts.port };
    if (opts.kind === 'tls' && !opts.tls) throw new Error('TLS transport needs tls.cert and tls.key');
  }

  get connectionCount(): number {
    return this.byId.size;
  }

  listen(): Promise<Endpoint> {
    const server =
      this.kind === 'tls'
        ? tls.createServer({ cert: this.opts.tls!.cert, key: this.opts.tls!.key }, (s) => this.adopt(s))
        : net.createServer((s) => this.adopt(s));
    this.server = server;
    // A failed TLS handshake must not take the listener down.
    server.on('tlsClientError', () => {});
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host: this.opts.host, port: this.opts.port, ipv6Only: net.isIPv6(this.opts.host) }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.opts.events.onError?.(err));
        const addr = server.address() as net.AddressInfo;
        this.local = { transport: this.kind, address: this.opts.host, port: addr.port };
        resolve(this.local);
      });
    });
  }

  hasConnection(target: Endpoint): boolean {
    if (target.connectionId) return this.byId.has(target.connectionId);
    return this.byRemote.has(endpointKey(target));
  }

  async send(data: Buffer, target: Endpoint): Promise<void> {
    let conn: StreamConnection | undefined;
    if (target.connectionId) {
      conn = this.byId.get(target.connectionId);
      if (!conn) throw new Error(`connection ${target.connectionId} is closed`);
    } else {
      conn = this.byRemote.get(endpointKey(target)) ?? (await this.connect(target));
    }
    const socket = conn.socket;
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    for (const c of this.byId.values()) c.socket.destroy();
    this.byId.clear();
    this.byRemote.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private connect(target: Endpoint): Promise<StreamConnection> {
    const key = endpointKey(target);
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const p = new Promise<StreamConnection>((resolve, reject) => {
      const socket =
        this.kind === 'tls'
          ? tls.connect({
              host: target.address,
              port: target.port,
              servername: net.isIP(target.address) ? undefined : target.address,
              ca: this.opts.tls?.ca,
              rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true,
            })
          : net.connect({ host: target.address, port: target.port });
      const readyEvent = this.kind === 'tls' ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => socket.destroy(new Error(`connect to ${key} timed out`)), this.opts.connectTimeoutMs ?? 10_000);
      timer.unref();
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        resolve(this.adopt(socket, target));
      });
    });
    this.connecting.set(key, p);
    const done = () => this.connecting.delete(key);
    p.then(done, done);
    return p;
  }

  private adopt(socket: net.Socket, knownRemote?: Endpoint): StreamConnection {
    const remote: Endpoint = {
      transport: this.kind,
      address: knownRemote?.address ?? stripMappedPrefix(socket.remoteAddress ?? ''),
      port: knownRemote?.port ?? socket.remotePort ?? 0,
    };
    const conn: StreamConnection = { id: nextConnectionId(this.kind), socket, remote, framer: new StreamFramer() };
    remote.connectionId = conn.id;
    this.byId.set(conn.id, conn);
    this.byRemote.set(endpointKey(remote), conn);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs ?? DEFAULT_IDLE_CONNECTION_TIMEOUT_MS);
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => {
      /* reported through 'close'; a reset peer is routine */
    });
    socket.on('close', () => this.forget(conn));
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    return conn;
  }

  private onData(conn: StreamConnection, chunk: Buffer): void {
    try {
      // RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a single CRLF pong.
      if (conn.framer.pending === 0 && chunk.length >= 4 && chunk.subarray(0, 4).equals(CRLFCRLF)) {
        conn.socket.write(CRLF);
        this.opts.events.onKeepAlive?.(conn.remote);
      }
      const frames = conn.framer.push(chunk);
      for (const frame of frames) this.opts.events.onMessage(frame, conn.remote, this.local);
    } catch (err) {
      // Oversize or unframeable input: the stream cannot be resynchronised, so drop the connection.
      this.opts.events.onFramingError?.(err as Error, conn.remote);
      conn.socket.destroy();
    }
  }

  private forget(conn: StreamConnection): void {
    if (this.byId.get(conn.id) !== conn) return;
    this.byId.delete(conn.id);
    const key = endpointKey(conn.remote);
    if (this.byRemote.get(key) === conn) this.byRemote.delete(key);
    this.opts.events.onConnectionClosed?.(conn.id);
  }
}

export function stripMappedPrefix(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
