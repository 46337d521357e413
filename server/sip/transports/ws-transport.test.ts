import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SIP_WS_SUBPROTOCOL, WsTransport } from './ws-transport.ts';

const open: WsTransport[] = [];
const sockets: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function listen(firstMessageTimeoutMs: number, idleTimeoutMs = 60_000) {
  const messages: Buffer[] = [];
  const t = new WsTransport({
    kind: 'ws', host: '127.0.0.1', port: 0, idleTimeoutMs, limits: { firstMessageTimeoutMs, maxPerSource: 2 },
    events: { onMessage: (d) => void messages.push(d) },
  });
  open.push(t);
  await t.listen();
  return { t, messages, port: t.local.port };
}

function client(port: number): Promise<{ ws: WebSocket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, SIP_WS_SUBPROTOCOL);
    let closed = false;
    sockets.push({ close: () => ws.terminate() });
    ws.on('close', () => (closed = true));
    ws.once('open', () => resolve({ ws, closed: () => closed }));
    ws.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MESSAGE = 'OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/WS h;branch=z9hG4bKw\r\nTo: <sip:h>\r\nFrom: <sip:a@h>;tag=w\r\nCall-ID: w\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

describe('WsTransport limits', () => {
  it('closes a WebSocket that sends no message in time, keeps one that talks and pings', async () => {
    const { port, messages } = await listen(300, 800);
    const silent = await client(port);
    const talker = await client(port);
    talker.ws.send(MESSAGE);
    for (let i = 0; i < 10; i++) {
      await sleep(200);
      talker.ws.send('\r\n\r\n');
    }
    expect(silent.closed()).toBe(true);
    expect(talker.closed()).toBe(false);
    expect(messages).toHaveLength(1);
  });

  it('caps connections per source before the upgrade', async () => {
    const { port } = await listen(5000);
    await client(port);
    await client(port);
    const third = net.connect({ host: '127.0.0.1', port });
    sockets.push({ close: () => third.destroy() });
    const closed = await new Promise<boolean>((resolve) => {
      third.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 500);
    });
    expect(closed).toBe(true);
  });

  it('closes a slow upgrade request (slowloris on the HTTP handshake)', async () => {
    const { port } = await listen(300);
    const raw = net.connect({ host: '127.0.0.1', port });
    sockets.push({ close: () => raw.destroy() });
    raw.on('error', () => {});
    raw.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const timer = setInterval(() => raw.writable && raw.write('X-A: b\r\n'), 100);
    const closed = await new Promise<boolean>((resolve) => {
      raw.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    clearInterval(timer);
    expect(closed).toBe(true);
  });
});
