import type { Endpoint } from '../message.ts';
import { isKeepAlive, type Transport, type TransportEvents, type TransportKind } from './transport.ts';

export interface SentDatagram {
  data: Buffer;
  text: string;
  target: Endpoint;
}

export interface MemoryTransportOptions {
  kind?: TransportKind;
  /** Defaults to false for 'udp', true otherwise. */
  reliable?: boolean;
  address?: string;
  port?: number;
}

/**
 * In-memory fake transport: records what is sent, lets a test inject what is received.
 * The stack attaches its events with `attach()` (done by SipStack for `opts.transports`).
 */
export class MemoryTransport implements Transport {
  readonly kind: TransportKind;
  readonly reliable: boolean;
  readonly local: Endpoint;
  readonly sent: SentDatagram[] = [];
  /** When set, `send` rejects with this error (simulates an unreachable target). */
  failSendsWith: Error | undefined;
  /** Connection ids the fake treats as open (for connectionId targets). */
  readonly openConnections = new Set<string>();
  private events: TransportEvents | undefined;
  private closed = false;

  constructor(opts: MemoryTransportOptions = {}) {
    this.kind = opts.kind ?? 'udp';
    this.reliable = opts.reliable ?? this.kind !== 'udp';
    this.local = { transport: this.kind, address: opts.address ?? '127.0.0.1', port: opts.port ?? 5060 };
  }

  attach(events: TransportEvents): void {
    this.events = events;
  }

  listen(): Promise<Endpoint> {
    this.closed = false;
    return Promise.resolve(this.local);
  }

  hasConnection(target: Endpoint): boolean {
    return target.connectionId !== undefined && this.openConnections.has(target.connectionId);
  }

  send(data: Buffer, target: Endpoint): Promise<void> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    if (this.failSendsWith) return Promise.reject(this.failSendsWith);
    if (target.connectionId && this.reliable && !this.openConnections.has(target.connectionId)) {
      return Promise.reject(new Error(`connection ${target.connectionId} is closed`));
    }
    this.sent.push({ data, text: data.toString('utf8'), target: { ...target } });
    return Promise.resolve();
  }

  /** Delivers `data` as if it arrived from `source`. */
  inject(data: Buffer | string, source: Partial<Endpoint> & { address: string; port: number }): void {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const src: Endpoint = { transport: this.kind, ...source };
    if (!this.events) throw new Error('MemoryTransport is not attached to a stack');
    if (isKeepAlive(buf)) {
      this.events.onKeepAlive?.(src);
      return;
    }
    this.events.onMessage(buf, src, this.local);
  }

  /** Sent messages whose first line starts with `prefix` (e.g. 'SIP/2.0 100', 'INVITE', 'ACK'). */
  sentStartingWith(prefix: string): SentDatagram[] {
    return this.sent.filter((s) => s.text.startsWith(prefix));
  }

  clearSent(): void {
    this.sent.length = 0;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
