import dgram from 'node:dgram';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse, SipResponse, type SipRequest } from './message.ts';
import { parseMessage } from './parser.ts';
import { SipStack, type SipStackOptions } from './sip-stack.ts';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function stackWith(onRequest: SipStack['onRequest'], extra: Partial<SipStackOptions> = {}) {
  const stack = new SipStack({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger, ...extra });
  stack.onRequest = onRequest;
  await stack.start();
  cleanups.push(() => stack.stop());
  return { stack, port: stack.listening()[0]!.port };
}

async function client() {
  const socket = dgram.createSocket('udp4');
  const queue: SipResponse[] = [];
  const waiters: Array<(r: SipResponse) => void> = [];
  socket.on('message', (m) => {
    const r = parseMessage(m) as SipResponse;
    if (waiters.length) waiters.shift()!(r);
    else queue.push(r);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => void socket.close());
  const port = socket.address().port;
  return {
    send: (text: string, to: number) => socket.send(text, to, '127.0.0.1'),
    next: () => new Promise<SipResponse>((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve))),
    port,
  };
}

function request(method: string, user: string, port: number, branch = 'z9hG4bK' + Math.random().toString(36).slice(2)): string {
  return (
    `${method} sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:${user}@example.com>;tag=f\r\nTo: <sip:${user}@example.com>\r\nCall-ID: ${branch}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`
  );
}

describe('stateless REGISTER rejections (over a real UDP socket)', () => {
  it('answers challenges and refusals without a transaction-table entry', async () => {
    const handled: SipRequest[] = [];
    const { stack, port } = await stackWith((req, tx) => {
      handled.push(req);
      tx?.respond(createResponse(req, 401, 'Unauthorized', { toTag: 't' }));
    });
    const c = await client();
    for (let i = 0; i < 50; i++) {
      c.send(request('REGISTER', 'mallory', c.port), port);
      expect((await c.next()).status).toBe(401);
    }
    expect(stack.transactionCount.server).toBe(0);
    expect(handled).toHaveLength(50);
  });

  it('keeps a successful REGISTER as a transaction, so a retransmission gets the same 200 and is not handled again', async () => {
    const handled: SipRequest[] = [];
    const { stack, port } = await stackWith((req, tx) => {
      handled.push(req);
      tx?.respond(createResponse(req, 200, 'OK', { toTag: 'ok' }));
    });
    const c = await client();
    const text = request('REGISTER', 'alice', c.port, 'z9hG4bKsame');
    c.send(text, port);
    expect((await c.next()).status).toBe(200);
    expect(stack.transactionCount.server).toBe(1);
    c.send(text, port);
    const again = await c.next();
    expect(again.status).toBe(200);
    expect(again.to.params.tag).toBe('ok');
    expect(handled).toHaveLength(1);
  });
});

describe('server transaction table cap', () => {
  it('answers 503 with Retry-After once the table is full', async () => {
    const { stack, port } = await stackWith(() => {
      /* never answers: every OPTIONS stays in the table */
    }, { maxServerTransactions: 3 });
    const c = await client();
    for (let i = 0; i < 3; i++) c.send(request('OPTIONS', 'probe', c.port), port);
    await new Promise((r) => setTimeout(r, 100));
    expect(stack.transactionCount.server).toBe(3);
    c.send(request('OPTIONS', 'probe', c.port), port);
    const res = await c.next();
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('5');
    expect(stack.transactionCount.server).toBe(3);
    expect(stack.securityCounters.overflowRejects).toBe(1);
  });
});
