import dgram from 'node:dgram';
import net from 'node:net';
import type { Endpoint } from '../message.ts';
import { isKeepAlive, type Transport, type TransportEvents } from './transport.ts';

export const DEFAULT_UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpTransportOptions {
  host: string;
  port: number;
  /** SO_RCVBUF; the kernel default (~208 KiB) drops datagrams under load. */
  receiveBufferBytes?: number;
  events: TransportEvents;
}

/** RFC 3261 §18 over UDP: one datagram is one message. */
export class UdpTransport implements Transport {
  readonly kind = 'udp' as const;
  readonly reliable = false;
  local: Endpoint;
  private socket: dgram.Socket | undefined;
  private readonly opts: UdpTransportOptions;

  constructor(opts: UdpTransportOptions) {
    this.opts = opts;
    this.local = { transport: 'udp', address: opts.host, port: opts.port };
  }

  listen(): Promise<Endpoint> {
    const family = net.isIPv6(this.opts.host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({
      type: family,
      recvBufferSize: this.opts.receiveBufferBytes ?? DEFAULT_UDP_RECEIVE_BUFFER_BYTES,
      ipv6Only: family === 'udp6',
    });
    this.socket = socket;
    socket.on('message', (data, rinfo) => {
      try {
        // RFC 5626 §4.4.1: CRLF keep-alives on UDP are not answered.
        if (isKeepAlive(data)) {
          this.opts.events.onKeepAlive?.({ transport: 'udp', address: rinfo.address, port: rinfo.port });
          return;
        }
        this.opts.events.onMessage(data, { transport: 'udp', address: rinfo.address, port: rinfo.port }, this.local);
      } catch (err) {
        this.opts.events.onError?.(err as Error);
      }
    });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ address: this.opts.host, port: this.opts.port, exclusive: true }, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.opts.events.onError?.(err));
        const addr = socket.address();
        this.local = { transport: 'udp', address: this.opts.host, port: addr.port };
        resolve(this.local);
      });
    });
  }

  /** SO_RCVBUF as the kernel granted it (Linux reports twice the usable size; capped by rmem_max). */
  get receiveBufferBytes(): number | undefined {
    try {
      return this.socket?.getRecvBufferSize();
    } catch {
      return undefined;
    }
  }

  send(data: Buffer, target: Endpoint): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('UDP transport is not listening'));
    return new Promise((resolve, reject) => {
      socket.send(data, target.port, target.address, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
