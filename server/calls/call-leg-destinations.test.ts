import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DialplanRunParams, SandboxHost } from '../../sandbox/index.ts';
import { DigestServer, ManualClock, MemoryTransport, SipStack, createResponse, parseMessage } from '../sip/index.ts';
import { CallService } from './call-service.ts';
import type { CallServiceOptions } from './call-service-deps.ts';
import { FakeAccounts, FakeLocation, makeAccount, MemoryCdrs, MemoryDialplans, MemoryKv, TENANT } from './call-test-support.ts';

/**
 * Legs the tenant chose by address, over the in-memory transport: a refused destination must be
 * refused before anything is sent, so the only datagrams out are the responses to the caller.
 */

const CALLER = { address: '198.51.100.5', port: 50000 };

let mem: MemoryTransport;
let stack: SipStack;
let service: CallService;
let cdrs: MemoryCdrs;
let runs: DialplanRunParams[];
let script: (host: SandboxHost, run: number) => Promise<void>;

async function serve(extra: Partial<CallServiceOptions> = {}): Promise<void> {
  mem = new MemoryTransport();
  const logger = pino({ level: 'silent' });
  stack = new SipStack({ listen: [], transports: [mem], clock: new ManualClock(), logger });
  const accounts = new FakeAccounts();
  const dialplans = new MemoryDialplans();
  dialplans.plans.set(`${TENANT.id}/out`, { js: '', sourceMap: '' });
  cdrs = new MemoryCdrs();
  runs = [];
  service = new CallService({
    stack, location: new FakeLocation(), accounts, digest: new DigestServer({ secret: 'k'.repeat(32) }),
    sandbox: {
      run: async (p, host) => {
        runs.push(p);
        await script(host, runs.length);
        return { status: 'completed' };
      },
    },
    dialplans, kv: new MemoryKv(), cdrs, emit: () => {}, logger,
    resolveHost: async (host) => {
      if (host === 'inside.evil.example') return '10.1.2.3';
      throw new Error('NXDOMAIN');
    },
    ...extra,
  });
  stack.onRequest = (req, tx) => {
    if (!service.handleRequest(req, tx) && tx) tx.respond(createResponse(req, 405));
  };
  await stack.start();
  accounts.add(makeAccount('alice', { outDialplan: 'out', allowedCidrs: ['198.51.100.0/24'] }));
}

function invite(to: string): string {
  const body = 'v=0\r\no=- 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  return [
    `INVITE sip:${to} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.5:50000;branch=z9hG4bKinv1;rport',
    'From: "Alice" <sip:alice@example.com>;tag=atag1',
    `To: <sip:${to}>`,
    'Call-ID: call1@198.51.100.5',
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@198.51.100.5:50000>',
    'Max-Forwards: 70',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

function finalToCaller(): { status: number; reason: string } | undefined {
  const finals = mem.sent
    .filter((s) => s.target.address === CALLER.address && /^SIP\/2\.0 [2-6]\d\d/.test(s.text) && !s.text.startsWith('SIP/2.0 100'))
    .map((s) => parseMessage(s.data) as unknown as { status: number; reason: string });
  return finals[finals.length - 1];
}

function notToCaller(): string[] {
  return mem.sent.filter((s) => s.target.address !== CALLER.address).map((s) => `${s.target.address}:${s.target.port} ${s.text.split('\r\n')[0]}`);
}

afterEach(async () => {
  service.close();
  await stack.stop();
});

describe('sip: URI legs to internal addresses (no allow-list)', () => {
  beforeEach(() => serve());

  it.each([
    ['sip:x@10.0.0.1'],
    ['<sip:x@127.0.0.1:6379;transport=tcp>'],
    ['sip:x@169.254.169.254'],
    ['sip:x@inside.evil.example'],
    ['sip:x@203.0.113.9:6379'],
  ])('%s: the leg fails 403 before anything is sent', async (dial) => {
    const results: unknown[] = [];
    script = async (host) => { results.push(await host.call('Dial', [dial, {}])); };
    mem.inject(invite('bob@example.com'), CALLER);
    await settle();
    expect(results).toEqual([{ answered: false, status: 403, reason: 'Destination not allowed', outcome: 'failed' }]);
    expect(notToCaller()).toEqual([]);
    expect(finalToCaller()).toMatchObject({ status: 403 });
    await cdrs.waitFor(1);
    expect(cdrs.rows[0]!.legs.map((l) => [l.state, l.status, l.reason])).toEqual([['failed', 403, 'Destination not allowed']]);
  });

  it('a public address on the SIP port is dialled', async () => {
    script = async (host) => { await host.call('Dial', ['sip:x@203.0.113.9', { ringTimeout: 1 }]); };
    mem.inject(invite('bob@example.com'), CALLER);
    await settle();
    expect(notToCaller()).toEqual(['203.0.113.9:5060 INVITE sip:x@203.0.113.9 SIP/2.0']);
  });
});

describe('sip: URI legs with an allow-listed network', () => {
  beforeEach(() => serve({ allowedLegNetworks: ['10.0.0.0/8'] }));

  it('reaches an allow-listed address on any port, still not other private ones', async () => {
    const results: unknown[] = [];
    script = async (host) => { results.push(await host.call('Dial', ['sip:x@192.168.1.1&sip:y@10.0.0.1:5080', { ringTimeout: 1 }])); };
    mem.inject(invite('bob@example.com'), CALLER);
    await settle();
    expect(notToCaller()).toEqual(['10.0.0.1:5080 INVITE sip:y@10.0.0.1:5080 SIP/2.0']);
  });
});

