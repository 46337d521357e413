import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from '../message.ts';
import { StreamFramer } from '../stream-framer.ts';
import { ConnectionTransport, type ConnectionActivity, type ConnectionTransportOptions } from './connection-transport.ts';
import { CRLF, CRLFCRLF, endpointKey } from './transport.ts';

export type { TlsSettings } from './connection-transport.ts';
export { DEFAULT_IDLE_CONNECTION_TIMEOUT_MS } from './connection-transport.ts';

export interface StreamTransportOptions extends ConnectionTransportOptions<'tcp' | 'tls'> {
  connectTimeoutMs?: number;
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
  activity: ConnectionActivity;
}

/** RFC 3261 §18 over TCP and TLS: Content-Length framing (§18.3), connection reuse (§18.2.2). */
export class StreamTransport extends ConnectionTransport<'tcp' | 'tls', StreamConnection, StreamTransportOptions> {
  private server: net.Server | undefined;

  constructor(opts: StreamTransportOptions) {
    super(opts);
  }

  listen(): Promise<Endpoint> {
    const server =
      this.kind === 'tls'
        ? tls.createServer(
            { cert: this.opts.tls!.cert, key: this.opts.tls!.key, handshakeTimeout: this.firstMessageTimeoutMs },
            (s) => this.adopt(s),
          )
        : net.createServer((s) => this.adopt(s));
    this.server = server;
    this.limitInbound(server);
    // A failed TLS handshake must not take the listener down.
    server.on('tlsClientError', () => {});
    this.startSweep();
    return this.bind(server);
  }

  async send(data: Buffer, target: Endpoint): Promise<void> {
    const conn = await this.connections.resolve(target, (t) => this.connect(t));
    const socket = conn.socket;
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
    conn.activity.lastActivity = Date.now();
  }

  protected drop(conn: StreamConnection): void {
    conn.socket.destroy();
  }

  async close(): Promise<void> {
    this.stopSweep();
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private connect(target: Endpoint): Promise<StreamConnection> {
    const key = endpointKey(target);
    return new Promise<StreamConnection>((resolve, reject) => {
      const socket =
        this.kind === 'tls'
          ? tls.connect({
              host: target.address,
              port: target.port,
              servername: target.serverName ?? (net.isIP(target.address) ? undefined : target.address),
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
        this.startSweep();
        resolve(this.adopt(socket, target));
      });
    });
  }

  private adopt(socket: net.Socket, knownRemote?: Endpoint): StreamConnection {
    const remote: Endpoint = {
      transport: this.kind,
      address: knownRemote?.address ?? stripMappedPrefix(socket.remoteAddress ?? ''),
      port: knownRemote?.port ?? socket.remotePort ?? 0,
    };
    const conn: StreamConnection = {
      id: nextConnectionId(this.kind),
      socket,
      remote,
      framer: new StreamFramer(),
      activity: this.newActivity(knownRemote === undefined),
    };
    remote.connectionId = conn.id;
    this.connections.add(conn);
    socket.setNoDelay(true);
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
      const keepAlivesBefore = conn.framer.keepAliveBytes;
      const frames = conn.framer.push(chunk);
      this.noteActivity(conn, frames.length > 0, conn.framer.keepAliveBytes > keepAlivesBefore);
      for (const frame of frames) this.opts.events.onMessage(frame, conn.remote, this.local);
    } catch (err) {
      // Oversize or unframeable input: the stream cannot be resynchronised, so drop the connection.
      this.opts.events.onFramingError?.(err as Error, conn.remote);
      conn.socket.destroy();
    }
  }

  /**
   * Only whole messages and CRLF keep-alives reset the idle clock; bytes alone do not, or a peer
   * trickling one byte every few seconds would hold the connection forever.
   */
  private noteActivity(conn: StreamConnection, gotMessage: boolean, gotKeepAlive: boolean): void {
    const a = conn.activity;
    const now = Date.now();
    if (gotMessage) a.gotMessage = true;
    if (gotMessage || gotKeepAlive) a.lastActivity = now;
    if (conn.framer.pending === 0) a.partialSince = undefined;
    else if (a.partialSince === undefined || gotMessage) a.partialSince = now;
  }
}

export function stripMappedPrefix(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
