import type { Endpoint } from '../message.ts';
import { endpointKey } from './transport.ts';

/** What the table needs of a connection: its id, and the remote end it is keyed by. */
export interface TableConnection {
  readonly id: string;
  readonly remote: Endpoint;
}

/**
 * The open connections of a connection-oriented transport, found by id or by remote address:port
 * (RFC 3261 §18.2.2 connection reuse), with at most one connect attempt per remote at a time.
 */
export class ConnectionTable<C extends TableConnection> {
  private readonly byId = new Map<string, C>();
  private readonly byRemote = new Map<string, C>();
  private readonly connecting = new Map<string, Promise<C>>();

  get size(): number {
    return this.byId.size;
  }

  has(target: Endpoint): boolean {
    if (target.connectionId) return this.byId.has(target.connectionId);
    return this.byRemote.has(endpointKey(target));
  }

  add(conn: C): void {
    this.byId.set(conn.id, conn);
    this.byRemote.set(endpointKey(conn.remote), conn);
  }

  /**
   * The connection a send to `target` goes over: the named one when `target` has a connectionId
   * (rejects if it is gone), else an open one to address:port, else one opened by `connect`.
   */
  async resolve(target: Endpoint, connect: (target: Endpoint) => Promise<C>): Promise<C> {
    if (target.connectionId) {
      const conn = this.byId.get(target.connectionId);
      if (!conn) throw new Error(`connection ${target.connectionId} is closed`);
      return conn;
    }
    const key = endpointKey(target);
    const open = this.byRemote.get(key);
    if (open) return open;
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const p = connect(target);
    this.connecting.set(key, p);
    const done = () => this.connecting.delete(key);
    p.then(done, done);
    return p;
  }

  /** Drops `conn`; false when it was no longer in the table (already removed or cleared). */
  remove(conn: C): boolean {
    if (this.byId.get(conn.id) !== conn) return false;
    this.byId.delete(conn.id);
    const key = endpointKey(conn.remote);
    if (this.byRemote.get(key) === conn) this.byRemote.delete(key);
    return true;
  }

  values(): IterableIterator<C> {
    return this.byId.values();
  }

  clear(): void {
    this.byId.clear();
    this.byRemote.clear();
  }
}
