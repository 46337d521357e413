import type { Endpoint } from '../message.ts';

export type TransportKind = Endpoint['transport'];

/** What a transport reports upward (DESIGN: each lower layer reports through small callbacks). */
export interface TransportEvents {
  /** One whole SIP message (datagram, stream frame or WebSocket message). */
  onMessage(data: Buffer, source: Endpoint, local: Endpoint): void;
  /** RFC 5626 §3.5.1 CRLF keep-alive seen; streams have already answered the pong. */
  onKeepAlive?(source: Endpoint): void;
  /** A stream frame that could not be framed (oversize, garbage); the connection is closed. */
  onFramingError?(err: Error, source: Endpoint): void;
  onConnectionClosed?(connectionId: string): void;
  /** Errors that do not belong to a particular send (socket errors, accept failures). */
  onError?(err: Error): void;
}

/**
 * A SIP transport (RFC 3261 §18): moves whole messages as Buffers. Kept tiny so that transaction
 * and dialog tests run on the in-memory fake.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** Reliable transports get no retransmissions (RFC 3261 §17.1.1.2, §17.1.2.2). */
  readonly reliable: boolean;
  /** The bound local endpoint; valid after `listen()` resolved (port 0 resolved). */
  readonly local: Endpoint;
  listen(): Promise<Endpoint>;
  /**
   * Sends one message. A target with a `connectionId` goes over that connection (error if it is
   * gone); otherwise connection-oriented transports reuse or open a connection to address:port.
   * Rejects on failure (no socket, connection refused, closed connection).
   */
  send(data: Buffer, target: Endpoint): Promise<void>;
  /** True when `send` to this target can go over an open connection without connecting. */
  hasConnection?(target: Endpoint): boolean;
  close(): Promise<void>;
}

export function endpointKey(e: Pick<Endpoint, 'address' | 'port'>): string {
  return `${e.address}|${e.port}`;
}

export const CRLF = Buffer.from('\r\n');
export const CRLFCRLF = Buffer.from('\r\n\r\n');

export function isKeepAlive(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c !== 0x0d && c !== 0x0a) return false;
  }
  return data.length > 0;
}
