import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createResponse, SipRequest, SipResponse, type Endpoint } from './message.ts';
import { parseMessage } from './parser.ts';
import { SipStack, type ListenSpec } from './sip-stack.ts';
import { StreamFramer } from './stream-framer.ts';

const logger = pino({ level: 'silent' });
const stacks: SipStack[] = [];
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

let tlsCert = { cert: '', key: '' };
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  tlsCert = { cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8') };
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A stack that answers every request 200 (and records what it got). */
async function answeringStack(listen: ListenSpec[], extra: Partial<ConstructorParameters<typeof SipStack>[0]> = {}) {
  const stack = new SipStack({ listen, logger, tls: tlsCert, ...extra });
  const received: SipRequest[] = [];
  stack.onRequest = (req, tx) => {
    received.push(req);
    if (req.method !== 'ACK') tx?.respond(createResponse(req, 200, undefined, { toTag: 'srv' }));
  };
  stacks.push(stack);
  await stack.start();
  const port = (t: ListenSpec['transport']) => stack.listening().find((l) => l.transport === t)!.port;
  return { stack, received, port };
}

function options(opts: { transport?: string; host?: string; branch?: string; callId?: string; rport?: boolean; extraHeader?: string } = {}): string {
  const via = `SIP/2.0/${opts.transport ?? 'UDP'} ${opts.host ?? 'client.invalid:9999'};branch=${opts.branch ?? 'z9hG4bK' + Math.random().toString(36).slice(2)}${opts.rport ? ';rport' : ''}`;
  return (
    'OPTIONS sip:patchbay@example.com SIP/2.0\r\n' +
    `Via: ${via}\r\n` +
    'Max-Forwards: 70\r\n' +
    'From: <sip:probe@example.com>;tag=p1\r\n' +
    'To: <sip:patchbay@example.com>\r\n' +
    `Call-ID: ${opts.callId ?? 'opt-' + Math.random().toString(36).slice(2)}\r\n` +
    'CSeq: 1 OPTIONS\r\n' +
    (opts.extraHeader ?? '') +
    'Content-Length: 0\r\n\r\n'
  );
}

function udpClient(family: 4 | 6): Promise<{ socket: dgram.Socket; port: number; next: () => Promise<Buffer> }> {
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  cleanups.push(() => socket.close());
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  socket.on('message', (m) => (waiters.length ? waiters.shift()!(m) : queue.push(m)));
  const next = () => new Promise<Buffer>((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve)));
  return new Promise((resolve) =>
    socket.bind(0, family === 6 ? '::1' : '127.0.0.1', () => resolve({ socket, port: socket.address().port, next })),
  );
}

/** Collects whole SIP messages from a byte stream. */
function streamReader(socket: net.Socket) {
  const framer = new StreamFramer();
  const queue: SipResponse[] = [];
  const raw: Buffer[] = [];
  const waiters: Array<(r: SipResponse) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    raw.push(chunk);
    for (const frame of framer.push(chunk)) {
      const msg = parseMessage(frame) as SipResponse;
      if (waiters.length) waiters.shift()!(msg);
      else queue.push(msg);
    }
  });
  return {
    raw,
    next: () => new Promise<SipResponse>((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve))),
  };
}

function connectTcp(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.once('error', reject);
    s.setNoDelay(true);
    cleanups.push(() => s.destroy());
  });
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['127.0.0.1', 4],
  ['::1', 6],
] as const)('UDP on %s', (host, family) => {
  it('answers with received and rport to the source port', async () => {
    const { port, received } = await answeringStack([{ transport: 'udp', host, port: 0 }]);
    expect(port('udp')).toBeGreaterThan(0);
    const client = await udpClient(family);
    client.socket.send(options({ rport: true }), port('udp'), host);
    const res = parseMessage(await client.next()) as SipResponse;
    expect(res.status).toBe(200);
    expect(res.topVia.received).toBe(host);
    expect(res.topVia.rport).toBe(client.port);
    expect(received[0]!.source).toMatchObject({ transport: 'udp', address: host, port: client.port });
    expect(received[0]!.localEndpoint).toMatchObject({ transport: 'udp', address: host, port: port('udp') });
  });

  it('a stack sends a request to another stack and gets the response in its client transaction', async () => {
    const b = await answeringStack([{ transport: 'udp', host, port: 0 }]);
    const a = await answeringStack([{ transport: 'udp', host, port: 0 }]);
    const req = parseMessage(Buffer.from(options())) as SipRequest;
    req.headers.remove('Via');
    const final = await new Promise<SipResponse>((resolve, reject) => {
      a.stack.sendRequest(req, {
        target: { transport: 'udp', address: host, port: b.port('udp') },
        handler: { onFinal: resolve, onTimeout: () => reject(new Error('timeout')) },
      });
    });
    expect(final.status).toBe(200);
    expect(b.received[0]!.topVia.host).toBe(host);
    expect(b.received[0]!.topVia.port).toBe(a.port('udp'));
  });
});

describe('UDP receive buffer', () => {
  it('asks for 4 MiB by default (granted up to net.core.rmem_max)', async () => {
    const { stack } = await answeringStack([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    const transport = (stack as unknown as { transports: Array<{ receiveBufferBytes?: number }> }).transports[0]!;
    let cap = Infinity;
    try {
      cap = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    } catch {
      /* not Linux */
    }
    expect(transport.receiveBufferBytes).toBeGreaterThanOrEqual(Math.min(4 * 1024 * 1024, cap));
  });
});

describe('UDP robustness', () => {
  it('survives 1,000 malformed datagrams and still answers OPTIONS', async () => {
    const { port } = await answeringStack([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    const client = await udpClient(4);
    let answers400 = 0;
    for (let i = 0; i < 1000; i++) {
      const kind = i % 4;
      const data =
        kind === 0
          ? Buffer.from([0, 1, 2, 3, 255, i & 255])
          : kind === 1
            ? Buffer.from(options().replace('CSeq: 1 OPTIONS', 'CSeq: nope'))
            : kind === 2
              ? Buffer.from('INVITE sip:x SIP/2.0\r\nVia: \r\n\r\n')
              : Buffer.from('\r\n\r\n');
      client.socket.send(data, port('udp'), '127.0.0.1');
      if (i % 100 === 99) await tick(5);
    }
    client.socket.send(options({ callId: 'after-burst', rport: true }), port('udp'), '127.0.0.1');
    for (let i = 0; i < 2000; i++) {
      const raw = await client.next();
      if (raw.toString().startsWith('SIP/2.0 400 ')) {
        answers400++;
        continue;
      }
      const res = parseMessage(raw) as SipResponse;
      expect(res.status).toBe(200);
      expect(res.callId).toBe('after-burst');
      break;
    }
    expect(answers400).toBeGreaterThan(0);
  });
});

describe('TCP', () => {
  it('frames two messages in one chunk and one message split over three chunks; answers a CRLF ping', async () => {
    const { port, received } = await answeringStack([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const socket = await connectTcp(port('tcp'));
    const reader = streamReader(socket);
    socket.write(options({ transport: 'TCP', callId: 'one' }) + options({ transport: 'TCP', callId: 'two' }));
    expect((await reader.next()).callId).toBe('one');
    expect((await reader.next()).callId).toBe('two');
    const split = Buffer.from(options({ transport: 'TCP', callId: 'three' }));
    socket.write(split.subarray(0, 20));
    await tick();
    socket.write(split.subarray(20, 90));
    await tick();
    socket.write(split.subarray(90));
    expect((await reader.next()).callId).toBe('three');
    const connectionIds = new Set(received.map((r) => r.source!.connectionId));
    expect(connectionIds.size).toBe(1);
    expect([...connectionIds][0]).toMatch(/^tcp-/);
    reader.raw.length = 0;
    socket.write('\r\n\r\n');
    await tick(50);
    expect(Buffer.concat(reader.raw).toString()).toBe('\r\n');
  });

  it('closes a connection that sends an oversize message, and keeps serving others', async () => {
    const { port } = await answeringStack([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const bad = await connectTcp(port('tcp'));
    const closed = new Promise<void>((resolve) => bad.on('close', () => resolve()));
    bad.on('error', () => {});
    bad.write(options({ transport: 'TCP', extraHeader: `X-Big: ${'a'.repeat(70 * 1024)}\r\n` }));
    await closed;
    const good = await connectTcp(port('tcp'));
    const reader = streamReader(good);
    good.write(options({ transport: 'TCP', callId: 'still-here' }));
    expect((await reader.next()).callId).toBe('still-here');
  });

  it('reaches a client through its connection (connectionId) and opens + reuses connections otherwise', async () => {
    const { stack, port, received } = await answeringStack([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connectTcp(port('tcp'));
    const reader = streamReader(phone);
    phone.write(options({ transport: 'TCP', callId: 'register-ish' }));
    await reader.next();
    const source = received[0]!.source as Endpoint;
    const req = parseMessage(Buffer.from(options())) as SipRequest;
    req.headers.remove('Via');
    stack.sendRequest(req, { target: source });
    const got = (await reader.next()) as unknown as SipRequest;
    expect(got.method).toBe('OPTIONS');
    expect(got.topVia.transport).toBe('TCP');

    // No connectionId: a fresh outgoing connection, reused by the second request.
    const accepted: net.Socket[] = [];
    const peer = net.createServer((s) => {
      accepted.push(s);
      s.on('data', () => {});
    });
    cleanups.push(() => {
      for (const s of accepted) s.destroy();
      peer.close();
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
    const peerPort = (peer.address() as net.AddressInfo).port;
    for (let i = 0; i < 2; i++) {
      const r = parseMessage(Buffer.from(options())) as SipRequest;
      r.headers.remove('Via');
      stack.sendRequest(r, { target: { transport: 'tcp', address: '127.0.0.1', port: peerPort } });
      await tick(30);
    }
    expect(accepted).toHaveLength(1);
  });

  it('reports a refused connection as a transport error', async () => {
    const { stack } = await answeringStack([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const req = parseMessage(Buffer.from(options())) as SipRequest;
    req.headers.remove('Via');
    const err = await new Promise<Error>((resolve) =>
      stack.sendRequest(req, { target: { transport: 'tcp', address: '127.0.0.1', port: deadPort }, handler: { onTransportError: resolve } }),
    );
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('closes idle connections after the configured timeout', async () => {
    const { port } = await answeringStack([{ transport: 'tcp', host: '::1', port: 0 }], { idleConnectionTimeoutMs: 100 });
    const socket = await connectTcp(port('tcp'), '::1');
    const closed = await new Promise<boolean>((resolve) => socket.on('close', () => resolve(true)));
    expect(closed).toBe(true);
  });
});

describe('TLS', () => {
  it('answers OPTIONS over TLS with a self-signed certificate', async () => {
    const { port, received } = await answeringStack([{ transport: 'tls', host: '127.0.0.1', port: 0 }]);
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: port('tls'), host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
      cleanups.push(() => s.destroy());
    });
    const reader = streamReader(socket);
    socket.write(options({ transport: 'TLS', callId: 'secure' }));
    const res = await reader.next();
    expect(res.status).toBe(200);
    expect(res.callId).toBe('secure');
    expect(received[0]!.source!.transport).toBe('tls');
  });
});

describe('TLS between two stacks', () => {
  it('opens an outgoing TLS connection and gets the answer back over it', async () => {
    const b = await answeringStack([{ transport: 'tls', host: '127.0.0.1', port: 0 }]);
    const a = await answeringStack([{ transport: 'tls', host: '127.0.0.1', port: 0 }], {
      tls: { ...tlsCert, rejectUnauthorized: false },
    });
    const req = parseMessage(Buffer.from(options())) as SipRequest;
    req.headers.remove('Via');
    const final = await new Promise<SipResponse>((resolve, reject) => {
      a.stack.sendRequest(req, {
        target: { transport: 'tls', address: '127.0.0.1', port: b.port('tls') },
        handler: { onFinal: resolve, onTimeout: () => reject(new Error('timeout')), onTransportError: reject },
      });
    });
    expect(final.status).toBe(200);
    expect(b.received[0]!.topVia.transport).toBe('TLS');
  });
});

describe('WebSocket (RFC 7118)', () => {
  it('reaches a WebSocket client through its connection', async () => {
    const { stack, port, received } = await answeringStack([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const ws = new WebSocket(`ws://127.0.0.1:${port('ws')}/`, 'sip');
    cleanups.push(() => ws.terminate());
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const messages: string[] = [];
    const arrived = (n: number) =>
      new Promise<void>((r) => {
        const check = () => (messages.length >= n ? r() : setTimeout(check, 5));
        check();
      });
    ws.on('message', (d) => messages.push(d.toString()));
    ws.send(options({ transport: 'WS', host: 'abc.invalid', callId: 'reg' }));
    await arrived(1);
    const req = parseMessage(Buffer.from(options())) as SipRequest;
    req.headers.remove('Via');
    stack.sendRequest(req, { target: received[0]!.source! });
    await arrived(2);
    const got = parseMessage(Buffer.from(messages[1]!)) as SipRequest;
    expect(got.method).toBe('OPTIONS');
    expect(got.topVia.transport).toBe('WS');
  });

  it('accepts subprotocol "sip", one message per WebSocket message, over IPv4 and IPv6', async () => {
    const { port, received, stack } = await answeringStack([
      { transport: 'ws', host: '127.0.0.1', port: 0 },
      { transport: 'ws', host: '::1', port: 0 },
    ]);
    const ports = stack.listening().map((l) => [l.host, l.port] as const);
    for (const [host, p] of ports) {
      const url = `ws://${host.includes(':') ? `[${host}]` : host}:${p}/`;
      const ws = new WebSocket(url, 'sip');
      cleanups.push(() => ws.terminate());
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      expect(ws.protocol).toBe('sip');
      const msg = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
      ws.send(options({ transport: 'WS', host: 'df7jal23ls0d.invalid', callId: `ws-${host}` }));
      const res = parseMessage(Buffer.from(await msg)) as SipResponse;
      expect(res.status).toBe(200);
      expect(res.callId).toBe(`ws-${host}`);
    }
    expect(received.map((r) => r.source!.transport)).toEqual(['ws', 'ws']);
    expect(port('ws')).toBeGreaterThan(0);
  });

  it('refuses a WebSocket client that does not offer "sip"', async () => {
    const { port } = await answeringStack([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const ws = new WebSocket(`ws://127.0.0.1:${port('ws')}/`, 'chat');
    cleanups.push(() => ws.terminate());
    const outcome = await new Promise<string>((r) => {
      ws.once('open', () => r('open'));
      ws.once('error', () => r('refused'));
    });
    expect(outcome).toBe('refused');
  });
});

describe('traffic observer (the live SIP trace hook)', () => {
  it('sees each message in and out with both endpoints, only while set, and a throwing observer does not stop the answer', async () => {
    const { stack, port } = await answeringStack([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    const client = await udpClient(4);
    const seen: string[] = [];
    stack.trafficObserver = (direction, data, remote, local) => {
      seen.push(`${direction} ${data.toString().split('\r\n')[0]} ${remote.port === client.port} ${local.port === port('udp')}`);
    };
    client.socket.send(options({ callId: 'traced', host: `127.0.0.1:${client.port}` }), port('udp'), '127.0.0.1');
    await client.next();
    expect(seen).toEqual(['in OPTIONS sip:patchbay@example.com SIP/2.0 true true', 'out SIP/2.0 200 OK true true']);

    stack.trafficObserver = () => {
      throw new Error('observer bug');
    };
    client.socket.send(options({ host: `127.0.0.1:${client.port}` }), port('udp'), '127.0.0.1');
    expect((await client.next()).toString()).toMatch(/^SIP\/2\.0 200/);

    stack.trafficObserver = undefined;
    seen.length = 0;
    client.socket.send(options({ host: `127.0.0.1:${client.port}` }), port('udp'), '127.0.0.1');
    await client.next();
    expect(seen).toEqual([]);
  });
});
