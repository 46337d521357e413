import dgram from 'node:dgram';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse, SipResponse } from './message.ts';
import { parseMessage } from './parser.ts';
import { SipStack } from './sip-stack.ts';
import { createMutator, seedMessages } from './fuzz-mutator.ts';

const DATAGRAMS = 2_000;
/** Largest UDP payload over IPv4. */
const MAX_UDP_PAYLOAD = 65_507;

/** Replaced per datagram: with one branch per seed, most of the fuzz would be absorbed as retransmissions. */
const BRANCH_SLOT = 'z9hG4bKfz________';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Points every Via of a seed at the fuzzing client with rport, so the stack's answers come back to
 * us and not to whatever else listens on 127.0.0.1 (other engineers run tests at the same time).
 */
function aimedAt(seed: Buffer, port: number): Buffer {
  const text = seed.toString('latin1');
  return Buffer.from(
    text.replace(/^(via|v)[ \t]*:[^\r\n]*(\r?\n[ \t][^\r\n]*)*/gim, `Via: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=${BRANCH_SLOT}`),
    'latin1',
  );
}

function validOptions(port: number): Buffer {
  return Buffer.from(
    'OPTIONS sip:patchbay@127.0.0.1 SIP/2.0\r\n' +
      `Via: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bKafterfuzz\r\n` +
      'Max-Forwards: 70\r\n' +
      'From: <sip:probe@127.0.0.1>;tag=p1\r\n' +
      'To: <sip:patchbay@127.0.0.1>\r\n' +
      'Call-ID: after-fuzz-1\r\n' +
      'CSeq: 1 OPTIONS\r\n' +
      'Content-Length: 0\r\n\r\n',
  );
}

async function waitFor(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('SipStack under fuzzed datagrams', () => {
  it(`${DATAGRAMS} mutated datagrams: no uncaught error, no error log, and the stack still answers`, async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    cleanups.push(() => {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    });

    // Error-level log lines are where the stack's catch-alls ("SIP receive path failed", "onRequest threw") report.
    const errorLogs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        const line = chunk.toString();
        if ((JSON.parse(line) as { level: number }).level >= 50) errorLogs.push(line);
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);

    let received = 0;
    const stack = new SipStack({
      listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
      logger,
      onTrace: (dir) => {
        if (dir === 'in') received++;
      },
    });
    let answered = 0;
    stack.onRequest = (req, tx) => {
      if (req.method === 'ACK' || req.method === 'CANCEL') return;
      answered++;
      tx?.respond(createResponse(req, 200, undefined, { toTag: 'fz' }));
    };
    await stack.start();
    cleanups.push(() => stack.stop());
    const stackPort = stack.listening()[0]!.port;

    const client = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    client.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));
    const clientPort = client.address().port;

    const seeds = seedMessages().map((s) => aimedAt(s, clientPort));
    const mutate = createMutator(0xfa22_0001);
    const send = (b: Buffer): Promise<void> =>
      new Promise((resolve, reject) => client.send(b, stackPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));

    let sent = 0;
    // Small batches, each drained before the next, so the socket buffer never drops a datagram.
    while (sent < DATAGRAMS) {
      const batch: Buffer[] = [];
      while (batch.length < 20 && sent + batch.length < DATAGRAMS) {
        const d = Buffer.from(
          mutate.message(seeds).toString('latin1').replaceAll(BRANCH_SLOT, `z9hG4bKfz${String(sent + batch.length).padStart(8, '0')}`),
          'latin1',
        );
        if (d.length <= MAX_UDP_PAYLOAD) batch.push(d);
      }
      for (const d of batch) await send(d);
      sent += batch.length;
      await waitFor(() => received >= sent, `stack to receive ${sent} datagrams`);
    }
    expect(received).toBe(DATAGRAMS);
    // Some of the fuzz must have got through to the core, or the dispatch path was never tested.
    expect(answered).toBeGreaterThan(DATAGRAMS / 20);

    replies.length = 0;
    await send(validOptions(clientPort));
    await waitFor(
      () => replies.some((r) => r.toString('latin1').includes('after-fuzz-1')),
      '200 to the valid OPTIONS',
    );
    const answer = parseMessage(replies.find((r) => r.toString('latin1').includes('after-fuzz-1'))!);
    expect(answer).toBeInstanceOf(SipResponse);
    expect((answer as SipResponse).status).toBe(200);

    // Let timers and pending promises of the fuzzed transactions run before counting.
    await new Promise((r) => setTimeout(r, 50));
    expect(uncaught).toEqual([]);
    expect(errorLogs).toEqual([]);
  });
});
