import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Endpoint } from '../message.ts';
import { nextConnectionId, stripMappedPrefix, DEFAULT_IDLE_CONNECTION_TIMEOUT_MS, type TlsSettings } from './stream-transport.ts';
import { CRLF, endpointKey, isKeepAlive, type Transport, type TransportEvents } from './transport.ts';

/** RFC 7118 §4.1: the WebSocket subprotocol for SIP. */
export const SIP_WS_SUBPROTOCOL = 'sip';
export const MAX_WS_MESSAGE_BYTES = 64 * 1024;

export interface WsTransportOptions {
  kind: 'ws' | 'wss';
  host: string;
  port: number;
  tls?: TlsSettings;
  idleTimeoutMs?: number;
  events: TransportEvents;
}

interface WsConnection {
  id: string;
  ws: WebSocket;
  remote: Endpoint;
}

/** SIP over WebSocket (RFC 7118): one SIP message per WebSocket message, text or binary. */
export class WsTransport implements Transport {
  readonly kind: 'ws' | 'wss';
  readonly reliable = true;
  local: Endpoint;
  private httpServer: http.Server | https.Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly byId = new Map<string, WsConnection>();
  private readonly byRemote = new Map<string, WsConnection>();
  private readonly connecting = new Map<string, Promise<WsConnection>>();
  private readonly opts: WsTransportOptions;

  constructor(opts: WsTransportOptions) {
    this.opts = opts;
    this.kind = opts.kind;
    this.local = { transport: opts.kind, address: opts.host, port: opts.port };
    if (opts.kind === 'wss' && !opts.tls) throw new Error('WSS transport needs tls.cert and tls.key');
  }

  get connectionCount(): number {
    return this.byId.size;
  }

  listen(): Promise<Endpoint> {
    const server =
      this.kind === 'wss'
        ? https.createServer({ cert: this.opts.tls!.cert, key: this.opts.tls!.key })
        : http.createServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain' }).end('SIP over WebSocket only');
    });
    server.on('tlsClientError', () => {});
    this.httpServer = server;
    const wss = new WebSocketServer({
      server,
      maxPayload: MAX_WS_MESSAGE_BYTES,
      // RFC 7118 §4.1: only clients that offer the "sip" subprotocol are accepted.
      handleProtocols: (protocols) => (protocols.has(SIP_WS_SUBPROTOCOL) ? SIP_WS_SUBPROTOCOL : false),
      verifyClient: (info: { req: http.IncomingMessage }) => {
        const offered = String(info.req.headers['sec-websocket-protocol'] ?? '');
        return offered.split(',').some((p) => p.trim().toLowerCase() === SIP_WS_SUBPROTOCOL);
      },
    });
    this.wss = wss;
    wss.on('error', (err) => this.opts.events.onError?.(err));
    wss.on('connection', (ws, req) => {
      const remote: Endpoint = {
        transport: this.kind,
        address: stripMappedPrefix(req.socket.remoteAddress ?? ''),
        port: req.socket.remotePort ?? 0,
      };
      req.socket.setTimeout(this.opts.idleTimeoutMs ?? DEFAULT_IDLE_CONNECTION_TIMEOUT_MS);
      req.socket.on('timeout', () => ws.terminate());
      this.adopt(ws, remote);
    });
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
    let conn: WsConnection | undefined;
    if (target.connectionId) {
      conn = this.byId.get(target.connectionId);
      if (!conn) throw new Error(`connection ${target.connectionId} is closed`);
    } else {
      conn = this.byRemote.get(endpointKey(target)) ?? (await this.connect(target));
    }
    const ws = conn.ws;
    if (ws.readyState !== WebSocket.OPEN) throw new Error(`connection ${conn.id} is not open`);
    // RFC 7118 §5.2: text frames for UTF-8 messages; binary is also allowed, so send text.
    await new Promise<void>((resolve, reject) => ws.send(data, { binary: false }, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    for (const c of this.byId.values()) c.ws.terminate();
    this.byId.clear();
    this.byRemote.clear();
    const wss = this.wss;
    const server = this.httpServer;
    this.wss = undefined;
    this.httpServer = undefined;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (server) {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private connect(target: Endpoint): Promise<WsConnection> {
    const key = endpointKey(target);
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const host = net.isIPv6(target.address) ? `[${target.address}]` : target.address;
    const url = `${this.kind}://${host}:${target.port}/`;
    const p = new Promise<WsConnection>((resolve, reject) => {
      const ws = new WebSocket(url, SIP_WS_SUBPROTOCOL, {
        maxPayload: MAX_WS_MESSAGE_BYTES,
        ca: this.opts.tls?.ca,
        rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true,
      });
      ws.once('error', reject);
      ws.once('open', () => resolve(this.adopt(ws, { transport: this.kind, address: target.address, port: target.port })));
    });
    this.connecting.set(key, p);
    const done = () => this.connecting.delete(key);
    p.then(done, done);
    return p;
  }

  private adopt(ws: WebSocket, remote: Endpoint): WsConnection {
    const conn: WsConnection = { id: nextConnectionId(this.kind), ws, remote };
    remote.connectionId = conn.id;
    this.byId.set(conn.id, conn);
    this.byRemote.set(endpointKey(remote), conn);
    ws.on('error', () => {
      /* followed by 'close' */
    });
    ws.on('close', () => this.forget(conn));
    ws.on('message', (raw: RawData) => {
      try {
        const data = toBuffer(raw);
        if (isKeepAlive(data)) {
          if (data.includes('\r\n\r\n')) ws.send(CRLF, { binary: false });
          this.opts.events.onKeepAlive?.(conn.remote);
          return;
        }
        this.opts.events.onMessage(data, conn.remote, this.local);
      } catch (err) {
        this.opts.events.onError?.(err as Error);
      }
    });
    return conn;
  }

  private forget(conn: WsConnection): void {
    if (this.byId.get(conn.id) !== conn) return;
    this.byId.delete(conn.id);
    const key = endpointKey(conn.remote);
    if (this.byRemote.get(key) === conn) this.byRemote.delete(key);
    this.opts.events.onConnectionClosed?.(conn.id);
  }
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}
