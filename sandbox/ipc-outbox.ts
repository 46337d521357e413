/**
 * Messages for one IPC channel, written once per event-loop turn. Every `process.send` is one
 * pipe write that wakes the other process (~50 µs each in a worker profile at a few thousand runs
 * a second); the messages of one turn — a run's Log and its Dial, the answers to many calls'
 * sys calls under load — go out as one `batch` message instead. Order is kept: a batch is read
 * in order and nothing of a later turn can overtake it.
 */
export interface BatchMessage<M> {
  type: 'batch';
  messages: M[];
}

/** Most messages in one batch: a burst still goes out in a few writes, none of them huge. */
const MAX_BATCH = 256;

export class IpcOutbox<M> {
  private queued: M[] = [];
  private flushing: NodeJS.Immediate | undefined;

  constructor(
    /** Writes one message to the channel; false or a throw means the channel is gone. */
    private readonly write: (message: M | BatchMessage<M>) => void,
  ) {}

  push(message: M): void {
    this.queued.push(message);
    if (this.queued.length >= MAX_BATCH) this.flush();
    else this.flushing ??= setImmediate(() => this.flush());
  }

  /** Writes what is queued now (also the end of a turn). */
  flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    const messages = this.queued;
    if (messages.length === 0) return;
    this.queued = [];
    this.write(messages.length === 1 ? messages[0]! : { type: 'batch', messages });
  }

  /** Drops what is queued (the channel is gone). */
  clear(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    this.queued = [];
  }
}

/** The messages of one received message, a batch or a single one (never a batch inside a batch). */
export function unbatch<M extends { type: string }>(message: unknown): M[] {
  if (typeof message !== 'object' || message === null) return [];
  const candidate = message as { type?: unknown; messages?: unknown };
  if (candidate.type !== 'batch') return [message as M];
  if (!Array.isArray(candidate.messages)) return [];
  return (candidate.messages as unknown[]).filter(
    (inner): inner is M => typeof inner === 'object' && inner !== null && (inner as { type?: unknown }).type !== 'batch',
  );
}
