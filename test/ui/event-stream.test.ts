import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { EventStream, StreamState, type EventSnapshot, type SocketLike, type StreamEvent } from '../../web/ui/src/api/events.ts';

// The browser app's event-stream client against a real WebSocket server speaking the contract's
// frames: snapshot, ordered events, resume with ?since after a drop, no duplicates, resync.

interface Connection {
  socket: WebSocket;
  url: string;
  received: unknown[];
}

let server: WebSocketServer | null = null;
let stream: EventStream | null = null;

afterEach(async () => {
  stream?.close();
  if (server) {
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  }
  server = null;
});

async function startServer(): Promise<{ url: string; connections: Connection[]; next(): Promise<Connection> }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const connections: Connection[] = [];
  const waiters: ((c: Connection) => void)[] = [];
  server.on('connection', (socket, request) => {
    const connection: Connection = { socket, url: request.url ?? '', received: [] };
    socket.on('message', (data) => connection.received.push(JSON.parse(String(data))));
    connections.push(connection);
    waiters.shift()?.(connection);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/api/v1/events`,
    connections,
    next: () => new Promise<Connection>((resolve) => waiters.push(resolve)),
  };
}

const snapshot = (seq: number): EventSnapshot => ({ type: 'snapshot', seq, calls: [{ id: 'a' }], registrations: [], extensions: [], parking: [] });
const event = (seq: number, type = 'call.created'): StreamEvent => ({ seq, time: 1_700_000_000_000 + seq, type, tenant: 1 });

function collect(url: string) {
  const seen = { snapshots: [] as number[], events: [] as number[], states: [] as StreamState[], resyncs: 0 };
  stream = new EventStream({
    url,
    subscribe: ['call.*', 'extension.state'],
    backoffMs: [20],
    createSocket: (u) => new WebSocket(u) as unknown as SocketLike,
    onSnapshot: (s) => seen.snapshots.push(s.seq),
    onEvent: (e) => seen.events.push(e.seq),
    onState: (s) => seen.states.push(s),
    onResync: () => (seen.resyncs += 1),
  });
  return seen;
}

describe('EventStream (web/ui)', () => {
  it('subscribes, takes the snapshot, then hands over events in order', async () => {
    const ws = await startServer();
    const seen = collect(ws.url);
    const first = ws.next();
    stream!.start();
    const c = await first;
    expect(c.url).toBe('/api/v1/events');
    await expect.poll(() => c.received).toEqual([{ subscribe: ['call.*', 'extension.state'] }]);
    c.socket.send(JSON.stringify(event(4))); // before any snapshot: not for the page
    c.socket.send(JSON.stringify(snapshot(5)));
    for (const seq of [6, 7, 7, 8]) c.socket.send(JSON.stringify(event(seq)));
    c.socket.send('not json');
    await expect.poll(() => seen.events).toEqual([6, 7, 8]);
    expect(seen.snapshots).toEqual([5]);
    expect(stream!.state).toBe(StreamState.Live);
    expect(stream!.lastSeq).toBe(8);
  });

  it('after a server-side close, reconnects with since=<last seq> and drops replayed events', async () => {
    const ws = await startServer();
    const seen = collect(ws.url);
    const first = ws.next();
    stream!.start();
    const c1 = await first;
    c1.socket.send(JSON.stringify(snapshot(10)));
    c1.socket.send(JSON.stringify(event(11)));
    await expect.poll(() => seen.events).toEqual([11]);
    const second = ws.next();
    c1.socket.close(1012);
    const c2 = await second;
    expect(c2.url).toBe('/api/v1/events?since=11');
    await expect.poll(() => stream!.state).toBe(StreamState.Live);
    expect(seen.states).toEqual([StreamState.Live, StreamState.Reconnecting, StreamState.Connecting, StreamState.Live]);
    for (const seq of [11, 12, 13]) c2.socket.send(JSON.stringify(event(seq)));
    await expect.poll(() => seen.events).toEqual([11, 12, 13]);
    await expect.poll(() => c2.received).toEqual([{ subscribe: ['call.*', 'extension.state'] }]);
  });

  it('on resync forgets its position and takes the next snapshot whole; a later reconnect asks for no since', async () => {
    const ws = await startServer();
    const seen = collect(ws.url);
    const first = ws.next();
    stream!.start();
    const c1 = await first;
    c1.socket.send(JSON.stringify(snapshot(100)));
    c1.socket.send(JSON.stringify({ type: 'resync' }));
    c1.socket.send(JSON.stringify(event(101))); // stale position: ignored until a snapshot
    await expect.poll(() => seen.resyncs).toBe(1);
    expect(stream!.lastSeq).toBeNull();
    const second = ws.next();
    c1.socket.close(1013);
    const c2 = await second;
    expect(c2.url).toBe('/api/v1/events');
    c2.socket.send(JSON.stringify(snapshot(250)));
    c2.socket.send(JSON.stringify(event(251)));
    await expect.poll(() => seen.events).toEqual([251]);
    expect(seen.snapshots).toEqual([100, 250]);
  });

  it('close() stops for good: no reconnect', async () => {
    const ws = await startServer();
    collect(ws.url);
    const first = ws.next();
    stream!.start();
    const c = await first;
    c.socket.send(JSON.stringify(snapshot(1)));
    await expect.poll(() => stream!.state).toBe(StreamState.Live);
    stream!.close();
    await once(c.socket, 'close');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ws.connections).toHaveLength(1);
    expect(stream!.state).toBe(StreamState.Closed);
  });
});
