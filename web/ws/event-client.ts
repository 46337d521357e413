import type { WebSocket } from 'ws';
import type { WebUser } from '../../db/index.ts';
import { roleMaySee, subscriptionTakes } from './event-access.ts';
import type { StreamEntry } from './tenant-stream.ts';

export interface ClientLimits {
  /** Bytes handed to the socket before further frames wait in the client's own queue. */
  socketHighWaterBytes: number;
  /** ws.bufferedAmount + queued bytes past which the client is overrun (resync, then 1013). */
  maxBufferedBytes: number;
}

/** What a client asked for: type patterns (null = all its role may see, except sip.trace) and accounts (null = all). */
export interface ClientSubscription {
  types: string[] | null;
  accounts: string[] | null;
}

/** What the hub does for a client that must start over. */
export interface ClientHost {
  /** Frames of a fresh snapshot for this client (the `resync` marker is sent before them). */
  snapshotFrame(client: EventClient): string;
  /** Called when the client's trace interest may have changed. */
  subscriptionChanged(client: EventClient): void;
  /** The hub closed the client (1013: too slow). */
  closed(client: EventClient, code: number): void;
  /** The client was overrun once and is resynced. */
  resynced(client: EventClient): void;
}

export const CLOSE_TRY_AGAIN_LATER = 1013;

/** The part of a net.Socket the write batching uses (ws keeps its socket in `_socket`). */
interface Corkable {
  cork(): void;
  uncork(): void;
  destroyed?: boolean;
}

function socketOf(ws: WebSocket): Corkable | undefined {
  const socket = (ws as unknown as { _socket?: Partial<Corkable> })._socket;
  return socket && typeof socket.cork === 'function' && typeof socket.uncork === 'function' ? (socket as Corkable) : undefined;
}

/**
 * One connected event consumer. Frames go to the socket while it keeps up; past a high-water
 * mark they wait in a queue of our own, so that when the client falls too far behind (socket
 * buffer + queue over the bound) the queue can be dropped: the client gets `resync` and a fresh
 * snapshot, and on a second overrun before it has caught up it is closed with 1013. The switch
 * never buffers more than the bound per client, and nothing here ever waits on a client.
 */
export class EventClient {
  private readonly queue: string[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private strikes = 0;
  private closed = false;
  /** The socket is corked until the check phase: frames of one event-loop turn go out in one write. */
  private corked: Corkable | undefined;
  alive = true;

  constructor(
    readonly ws: WebSocket,
    readonly user: WebUser,
    readonly tenantId: number,
    /** Accounts a member owns; null for roles that see the whole tenant. */
    readonly ownAccounts: ReadonlySet<string> | null,
    public subscription: ClientSubscription,
    private readonly limits: ClientLimits,
    private readonly host: ClientHost,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether this client gets sip.trace frames (its role allows them and it asked by name). */
  get watchesTrace(): boolean {
    return !this.closed && roleMaySee(this.user.role, 'sip.trace') && subscriptionTakes(this.subscription.types, 'sip.trace');
  }

  wants(entry: StreamEntry): boolean {
    if (!roleMaySee(this.user.role, entry.type)) return false;
    if (!subscriptionTakes(this.subscription.types, entry.type)) return false;
    if (this.ownAccounts && !entry.accounts.some((a) => this.ownAccounts!.has(a))) return false;
    const only = this.subscription.accounts;
    if (only && !entry.accounts.some((a) => only.includes(a))) return false;
    return true;
  }

  offer(entry: StreamEntry): void {
    if (this.wants(entry)) this.send(entry.frame);
  }

  send(frame: string): void {
    if (this.closed) return;
    // Corked bytes are not the client's backlog: flush them before judging it by bufferedAmount.
    if (this.corked && this.ws.bufferedAmount + frame.length > this.limits.socketHighWaterBytes) this.uncork();
    if (this.ws.bufferedAmount + this.queuedBytes + frame.length > this.limits.maxBufferedBytes) {
      this.overrun();
      return;
    }
    if (this.queueLength === 0 && this.ws.bufferedAmount < this.limits.socketHighWaterBytes) this.write(frame);
    else this.enqueue(frame);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.dropQueue();
    // ws destroys the socket if the closing handshake has not completed within 30 s, so a
    // client that never reads again holds at most the bound plus the close frame until then.
    this.ws.close(code, reason);
    this.host.closed(this, code);
  }

  /** The socket went away (peer closed, terminated). */
  detach(): void {
    this.closed = true;
    this.dropQueue();
  }

  private get queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  private overrun(): void {
    this.strikes++;
    if (this.strikes >= 2) {
      this.close(CLOSE_TRY_AGAIN_LATER, 'event consumer too slow');
      return;
    }
    this.dropQueue();
    this.host.resynced(this);
    // Behind whatever the socket already holds: the client reads resync, then the state as of now.
    this.enqueue(JSON.stringify({ type: 'resync' }));
    this.enqueue(this.host.snapshotFrame(this));
    this.pump();
  }

  private write(frame: string): void {
    // A sip.trace watcher gets a frame per SIP message: one syscall each was a tenth of the main
    // thread at 150 calls/s. Corked, every frame written in this turn of the loop (all the
    // datagrams the poll phase read) leaves in one writev when the socket is uncorked.
    if (!this.corked) {
      const socket = socketOf(this.ws);
      if (socket && !socket.destroyed) {
        socket.cork();
        this.corked = socket;
        setImmediate(() => {
          if (this.corked === socket) this.uncork();
        });
      }
    }
    this.ws.send(frame, (err) => {
      if (!err) this.pump();
    });
  }

  private uncork(): void {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  }

  private enqueue(frame: string): void {
    this.queue.push(frame);
    this.queuedBytes += frame.length;
  }

  /** Moves queued frames to the socket while it is below its high-water mark. */
  private pump(): void {
    while (!this.closed && this.queueLength > 0 && this.ws.bufferedAmount < this.limits.socketHighWaterBytes) {
      const frame = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = '';
      this.queuedBytes -= frame.length;
      this.write(frame);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead); // a client always a little behind never empties the queue: compact now and then
      this.queueHead = 0;
    }
    if (this.queueLength === 0) {
      this.queue.length = 0;
      this.queueHead = 0;
      // Caught up with everything, the resync included: a later overrun starts from scratch.
      if (this.ws.bufferedAmount === 0) this.strikes = 0;
    }
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
  }
}
