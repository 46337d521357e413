import { describe, expect, it } from 'vitest';
import { IpcOutbox, unbatch, type BatchMessage } from './ipc-outbox.ts';

type Msg = { type: string; n?: number };

describe('IpcOutbox', () => {
  it('writes the messages of one turn as one batch, in order, and a lone message as itself', async () => {
    const written: Array<Msg | BatchMessage<Msg>> = [];
    const outbox = new IpcOutbox<Msg>((m) => written.push(m));
    outbox.push({ type: 'a', n: 1 });
    outbox.push({ type: 'b', n: 2 });
    expect(written).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([{ type: 'batch', messages: [{ type: 'a', n: 1 }, { type: 'b', n: 2 }] }]);
    outbox.push({ type: 'c' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(written[1]).toEqual({ type: 'c' });
  });

  it('writes at once when a batch is full, and drops what is queued on clear', async () => {
    const written: Array<Msg | BatchMessage<Msg>> = [];
    const outbox = new IpcOutbox<Msg>((m) => written.push(m));
    for (let i = 0; i < 256; i++) outbox.push({ type: 'x', n: i });
    expect(written).toHaveLength(1);
    expect((written[0] as BatchMessage<Msg>).messages).toHaveLength(256);
    outbox.push({ type: 'dropped' });
    outbox.clear();
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toHaveLength(1);
  });
});

describe('unbatch', () => {
  it('opens a batch, passes a single message, and refuses nesting and junk', () => {
    expect(unbatch<Msg>({ type: 'a' })).toEqual([{ type: 'a' }]);
    expect(unbatch<Msg>({ type: 'batch', messages: [{ type: 'a' }, { type: 'batch', messages: [{ type: 'b' }] }, 7, null] })).toEqual([{ type: 'a' }]);
    expect(unbatch<Msg>({ type: 'batch', messages: 'no' })).toEqual([]);
    expect(unbatch<Msg>(null)).toEqual([]);
    expect(unbatch<Msg>('text')).toEqual([]);
  });
});
