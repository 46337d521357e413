/** The B2BUA over the in-memory transport, shared by the bridge and re-INVITE tests (not part of the module's public surface). */
import pino from 'pino';
import { afterEach, beforeEach } from 'vitest';
import type { DialplanRunParams, RunResult, SandboxHost } from '../../../sandbox/index.ts';
import { createResponse, ManualClock, MemoryTransport, parseMessage, SipStack } from '../../sip/index.ts';
import type { SentDatagram, SipRequest, SipResponse } from '../../sip/index.ts';
import type { DialplanRunner } from '../call-service-deps.ts';
import { CallServiceFixture, makeAccount } from '../call-test-support.ts';

export const CALLER = { address: '198.51.100.5', port: 50000 };
export const PHONE = { address: '203.0.113.20', port: 40000 };

export function sdp(address: string, direction = 'sendrecv'): string {
  return `v=0\r\no=- 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=${direction}\r\n`;
}

export function request(lines: string[], body = ''): string {
  const head = lines.join('\r\n');
  const ct = body ? '\r\nContent-Type: application/sdp' : '';
  return `${head}${ct}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export const A_INVITE = request([
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.168.0.10:5060;branch=z9hG4bKainv;rport',
  'From: "Alice" <sip:alice@elsewhere.example>;tag=atag',
  'To: <sip:bob@example.com>',
  'Call-ID: acall@192.168.0.10',
  'CSeq: 1 INVITE',
  'Contact: <sip:alice@192.168.0.10:5060>',
  'Max-Forwards: 70',
], sdp('192.168.0.10'));

/** An in-dialog request from the caller (A side) toward the B2BUA. */
export function aInDialog(method: string, seq: number, toTag: string, branch: string, body = '', direction?: string, extra: string[] = []): string {
  return request([
    `${method} sip:patchbay@127.0.0.1:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP 192.168.0.10:5060;branch=z9hG4bK${branch};rport`,
    'From: "Alice" <sip:alice@elsewhere.example>;tag=atag',
    `To: <sip:bob@example.com>;tag=${toTag}`,
    'Call-ID: acall@192.168.0.10',
    `CSeq: ${seq} ${method}`,
    'Contact: <sip:alice@192.168.0.10:5060>',
    ...extra,
  ], direction ? sdp('192.168.0.10', direction) : body);
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

export function parsed(d: SentDatagram | undefined): SipRequest | SipResponse {
  if (!d) throw new Error('nothing sent');
  return parseMessage(d.data);
}

export function replyTo(req: SipRequest, status: number, opts: { body?: string; toTag?: string; contact?: string } = {}): string {
  const res = createResponse(req, status, undefined, {
    toTag: opts.toTag ?? 'btag',
    headers: opts.contact ? { Contact: opts.contact } : undefined,
    body: opts.body ? Buffer.from(opts.body) : undefined,
    contentType: opts.body ? 'application/sdp' : undefined,
  });
  return res.toBuffer().toString();
}

/** Fresh per test (see useBridgeHarness); the methods are arrow properties so they can be destructured. */
export class BridgeHarness extends CallServiceFixture {
  mem!: MemoryTransport;
  clock!: ManualClock;
  runner!: DialplanRunner;

  async start(): Promise<void> {
    this.mem = new MemoryTransport();
    this.clock = new ManualClock();
    this.runner = { run: async () => ({ status: 'completed' }) };
    const logger = pino({ level: 'silent' });
    const sandbox = { run: (p: DialplanRunParams, h: SandboxHost): Promise<RunResult> => this.runner.run(p, h) };
    await this.serve(new SipStack({ listen: [], transports: [this.mem], clock: this.clock, logger }), sandbox, logger);
    this.accounts.add(makeAccount('bob'));
    this.location.addUdp('bob', PHONE.port, PHONE.address);
    // A NATed phone registered a private Contact; the binding's flow is its public source.
    this.location.bindings.get('bob')![0]!.requestUri = 'sip:bob@192.168.1.20:5060';
  }

  readonly sentTo = (address: string, prefix: string): SentDatagram[] =>
    this.mem.sentStartingWith(prefix).filter((s) => s.target.address === address);

  /** Runs the call up to the bridge; returns the B-side INVITE and the A-side To tag. */
  readonly answeredCall = async (): Promise<{ bInvite: SipRequest; aTag: string }> => {
    this.mem.inject(A_INVITE, CALLER);
    await settle();
    const bInvite = parsed(this.sentTo(PHONE.address, 'INVITE')[0]) as SipRequest;
    this.mem.inject(replyTo(bInvite, 180), PHONE);
    this.mem.inject(replyTo(bInvite, 200, { body: sdp('192.168.1.20'), contact: '<sip:bob@192.168.1.20:5060>' }), PHONE);
    await settle();
    const ok = parsed(this.sentTo(CALLER.address, 'SIP/2.0 200')[0]) as SipResponse;
    return { bInvite, aTag: ok.to.params['tag']! };
  };
}

/** Registers beforeEach/afterEach that start and stop a fresh B2BUA; read its fields inside tests only. */
export function useBridgeHarness(): BridgeHarness {
  const h = new BridgeHarness();
  beforeEach(() => h.start());
  afterEach(() => h.stop());
  return h;
}
