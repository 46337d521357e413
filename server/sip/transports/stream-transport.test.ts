import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionLimits } from './connection-transport.ts';
import { StreamTransport } from './stream-transport.ts';

const open: StreamTransport[] = [];
const clients: net.Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function listen(limits: ConnectionLimits, idleTimeoutMs?: number) {
  const messages: Buffer[] = [];
  const t = new StreamTransport({
    kind: 'tcp', host: '127.0.0.1', port: 0, limits, idleTimeoutMs,
    events: { onMessage: (data) => void messages.push(data) },
  });
  open.push(t);
  await t.listen();
  return { t, messages, port: t.local.port };
}

/** A client socket and a promise of the time it was closed by the server. */
function connect(port: number, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    clients.push(socket);
    socket.on('error', () => {});
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function message(tag: string): string {
  return `OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK${tag}\r\nTo: <sip:h>\r\nFrom: <sip:a@h>;tag=${tag}\r\nCall-ID: ${tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
}

async function isOpen(c: { closed: Promise<number> }, withinMs: number): Promise<boolean> {
  return Promise.race([c.closed.then(() => false), sleep(withinMs).then(() => true)]);
}

describe('StreamTransport connection limits', () => {
  it('caps connections per source address; another source still gets in', async () => {
    const { t, port } = await listen({ maxPerSource: 3 });
    const conns = [];
    for (let i = 0; i < 5; i++) conns.push(await connect(port));
    const states = await Promise.all(conns.map((c) => isOpen(c, 300)));
    expect(states.filter(Boolean)).toHaveLength(3);
    expect(t.inboundFrom('127.0.0.1')).toBe(3);
    const other = await connect(port, '127.0.0.2');
    expect(await isOpen(other, 200)).toBe(true);
    // A closed connection frees its slot.
    conns[0]!.socket.destroy();
    await sleep(100);
    expect(t.inboundFrom('127.0.0.1')).toBe(2);
  });

  it('caps connections in total', async () => {
    const { port } = await listen({ maxTotal: 2, maxPerSource: 100 });
    const conns = [await connect(port, '127.0.0.1'), await connect(port, '127.0.0.2'), await connect(port, '127.0.0.3')];
    const states = await Promise.all(conns.map((c) => isOpen(c, 300)));
    expect(states).toEqual([true, true, false]);
  });
});

describe('StreamTransport deadlines', () => {
  it('closes a connection that sends nothing within the first-message deadline', async () => {
    const { port } = await listen({ firstMessageTimeoutMs: 300 });
    const c = await connect(port);
    const start = Date.now();
    const closedAt = await c.closed;
    expect(closedAt - start).toBeGreaterThanOrEqual(250);
    expect(closedAt - start).toBeLessThan(2000);
  });

  it('closes a slowloris that trickles a header byte by byte', async () => {
    const { port, messages } = await listen({ firstMessageTimeoutMs: 400 }, 60_000);
    const c = await connect(port);
    const text = message('slow');
    let i = 0;
    const timer = setInterval(() => {
      if (i < text.length && !c.socket.destroyed) c.socket.write(text[i++]!);
    }, 20);
    try {
      const start = Date.now();
      const closedAt = await c.closed;
      expect(closedAt - start).toBeLessThan(2000);
      expect(messages).toHaveLength(0);
    } finally {
      clearInterval(timer);
    }
  });

  it('also bounds a message begun after the first one', async () => {
    const { port, messages } = await listen({ firstMessageTimeoutMs: 300 }, 60_000);
    const c = await connect(port);
    c.socket.write(message('one'));
    await sleep(100);
    c.socket.write(message('two').slice(0, 40));
    expect(await isOpen(c, 1500)).toBe(false);
    expect(messages).toHaveLength(1);
  });

  it('keeps a connection that sends CRLF keep-alives, closes it once they stop (idle)', async () => {
    const { port, messages } = await listen({ firstMessageTimeoutMs: 300 }, 600);
    const c = await connect(port);
    c.socket.write(message('reg'));
    const pongs: Buffer[] = [];
    c.socket.on('data', (d) => pongs.push(d));
    for (let i = 0; i < 8; i++) {
      await sleep(200);
      c.socket.write('\r\n\r\n');
    }
    expect(c.socket.destroyed).toBe(false);
    expect(messages).toHaveLength(1);
    expect(Buffer.concat(pongs).toString()).toContain('\r\n');
    const stopped = Date.now();
    const closedAt = await c.closed;
    expect(closedAt - stopped).toBeGreaterThanOrEqual(500);
    expect(closedAt - stopped).toBeLessThan(2500);
  });
});
