import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Endpoint } from '../message.ts';
import { ConnectionTransport, type ConnectionActivity, type ConnectionTransportOptions } from './connection-transport.ts';
import { nextConnectionId, stripMappedPrefix } from './stream-transport.ts';
import { CRLF, isKeepAlive } from './transport.ts';

/** RFC 7118 §4.1: the WebSocket subprotocol for SIP. */
export const SIP_WS_SUBPROTOCOL = 'sip';
export const MAX_WS_MESSAGE_BYTES = 64 * 1024;

export type WsTransportOptions = ConnectionTransportOptions<'ws' | 'wss'>;

interface WsConnection {
  id: string;
  ws: WebSocket;
  remote: Endpoint;
  activity: ConnectionActivity;
}

/** SIP over WebSocket (RFC 7118): one SIP message per WebSocket message, text or binary. */
export class WsTransport extends ConnectionTransport<'ws' | 'wss', WsConnection, WsTransportOptions> {
  private httpServer: http.Server | https.Server | undefined;
  private wss: WebSocketServer | undefined;

  constructor(opts: WsTransportOptions) {
    super(opts);
  }

  listen(): Promise<Endpoint> {
    const deadline = this.firstMessageTimeoutMs;
    // Node checks headersTimeout/requestTimeout only every connectionsCheckingInterval (30 s).
    const checking = { connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(deadline / 2))) };
    const server =
      this.kind === 'wss'
        ? https.createServer({ cert: this.opts.tls!.cert, key: this.opts.tls!.key, handshakeTimeout: deadline, ...checking })
        : http.createServer(checking);
    // The upgrade request is the "first message" of a WebSocket connection: same slowloris bound.
    server.headersTimeout = deadline;
    server.requestTimeout = deadline;
    this.limitInbound(server);
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
      this.adopt(ws, remote, true);
    });
    this.startSweep();
    return this.bind(server);
  }

  async send(data: Buffer, target: Endpoint): Promise<void> {
    const conn = await this.connections.resolve(target, (t) => this.connect(t));
    const ws = conn.ws;
    if (ws.readyState !== WebSocket.OPEN) throw new Error(`connection ${conn.id} is not open`);
    // RFC 7118 §5.2: text frames for UTF-8 messages; binary is also allowed, so send text.
    await new Promise<void>((resolve, reject) => ws.send(data, { binary: false }, (err) => (err ? reject(err) : resolve())));
    conn.activity.lastActivity = Date.now();
  }

  protected drop(conn: WsConnection): void {
    conn.ws.terminate();
  }

  async close(): Promise<void> {
    this.stopSweep();
    for (const c of this.connections.values()) c.ws.terminate();
    this.connections.clear();
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
    const host = net.isIPv6(target.address) ? `[${target.address}]` : target.address;
    const url = `${this.kind}://${host}:${target.port}/`;
    return new Promise<WsConnection>((resolve, reject) => {
      const ws = new WebSocket(url, SIP_WS_SUBPROTOCOL, {
        maxPayload: MAX_WS_MESSAGE_BYTES,
        ca: this.opts.tls?.ca,
        rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true,
      });
      ws.once('error', reject);
      ws.once('open', () => {
        this.startSweep();
        resolve(this.adopt(ws, { transport: this.kind, address: target.address, port: target.port }, false));
      });
    });
  }

  private adopt(ws: WebSocket, remote: Endpoint, inbound: boolean): WsConnection {
    const conn: WsConnection = { id: nextConnectionId(this.kind), ws, remote, activity: this.newActivity(inbound) };
    remote.connectionId = conn.id;
    this.connections.add(conn);
    ws.on('error', () => {
      /* followed by 'close' */
    });
    ws.on('close', () => this.forget(conn));
    ws.on('message', (raw: RawData) => {
      try {
        const data = toBuffer(raw);
        conn.activity.lastActivity = Date.now();
        if (isKeepAlive(data)) {
          if (data.includes('\r\n\r\n')) ws.send(CRLF, { binary: false });
          this.opts.events.onKeepAlive?.(conn.remote);
          return;
        }
        conn.activity.gotMessage = true;
        this.opts.events.onMessage(data, conn.remote, this.local);
      } catch (err) {
        this.opts.events.onError?.(err as Error);
      }
    });
    return conn;
  }
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}
