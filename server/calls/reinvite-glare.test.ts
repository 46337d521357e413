import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DialplanRunParams, RunResult, SandboxHost } from '../../sandbox/index.ts';
import { DigestServer } from '../sip/index.ts';
import { createResponse, SipRequest, SipResponse } from '../sip/index.ts';
import { parseMessage } from '../sip/index.ts';
import { SipStack } from '../sip/index.ts';
import { ManualClock } from '../sip/index.ts';
import { MemoryTransport, type SentDatagram } from '../sip/index.ts';
import { CallService } from './call-service.ts';
import type { CallServiceEvent, DialplanRunner } from './call-service-deps.ts';
import { FakeAccounts, FakeLocation, makeAccount, MemoryCdrs, MemoryDialplans, MemoryKv, TENANT } from './call-test-support.ts';

/** Re-INVITE glare, BYE during a pending re-INVITE, delayed-offer re-INVITE (RFC 3261 §14.2, §15.1.2, §13.2.1), over the in-memory transport. */

const CALLER = { address: '198.51.100.5', port: 50000 };
const PHONE = { address: '203.0.113.20', port: 40000 };

let mem: MemoryTransport;
let clock: ManualClock;
let stack: SipStack;
let service: CallService;
let cdrs: MemoryCdrs;
let events: CallServiceEvent[];
let accounts: FakeAccounts;
let location: FakeLocation;
let dialplans: MemoryDialplans;
let runner: DialplanRunner;

function sdp(address: string, direction = 'sendrecv'): string {
  return `v=0\r\no=- 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=${direction}\r\n`;
}

function request(lines: string[], body = ''): string {
  const head = lines.join('\r\n');
  const ct = body ? '\r\nContent-Type: application/sdp' : '';
  return `${head}${ct}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

const A_INVITE = request([
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.168.0.10:5060;branch=z9hG4bKainv;rport',
  'From: "Alice" <sip:alice@elsewhere.example>;tag=atag',
  'To: <sip:bob@example.com>',
  'Call-ID: acall@192.168.0.10',
  'CSeq: 1 INVITE',
  'Contact: <sip:alice@192.168.0.10:5060>',
  'Max-Forwards: 70',
], sdp('192.168.0.10'));

function aInDialog(method: string, seq: number, toTag: string, branch: string, body = '', direction?: string): string {
  return request([
    `${method} sip:patchbay@127.0.0.1:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP 192.168.0.10:5060;branch=z9hG4bK${branch};rport`,
    'From: "Alice" <sip:alice@elsewhere.example>;tag=atag',
    `To: <sip:bob@example.com>;tag=${toTag}`,
    'Call-ID: acall@192.168.0.10',
    `CSeq: ${seq} ${method}`,
    'Contact: <sip:alice@192.168.0.10:5060>',
  ], direction ? sdp('192.168.0.10', direction) : body);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function sentTo(address: string, prefix: string): SentDatagram[] {
  return mem.sentStartingWith(prefix).filter((s) => s.target.address === address);
}

function parsed(d: SentDatagram | undefined): SipRequest | SipResponse {
  if (!d) throw new Error('nothing sent');
  return parseMessage(d.data);
}

function replyTo(req: SipRequest, status: number, opts: { body?: string; toTag?: string; contact?: string } = {}): string {
  const res = createResponse(req, status, undefined, {
    toTag: opts.toTag ?? 'btag',
    headers: opts.contact ? { Contact: opts.contact } : undefined,
    body: opts.body ? Buffer.from(opts.body) : undefined,
    contentType: opts.body ? 'application/sdp' : undefined,
  });
  return res.toBuffer().toString();
}

beforeEach(async () => {
  mem = new MemoryTransport();
  clock = new ManualClock();
  const logger = pino({ level: 'silent' });
  stack = new SipStack({ listen: [], transports: [mem], clock, logger });
  accounts = new FakeAccounts();
  location = new FakeLocation();
  dialplans = new MemoryDialplans();
  cdrs = new MemoryCdrs();
  events = [];
  runner = { run: async () => ({ status: 'completed' }) };
  service = new CallService({
    stack, location, accounts, digest: new DigestServer({ secret: 'k'.repeat(32) }),
    sandbox: { run: (p: DialplanRunParams, h: SandboxHost): Promise<RunResult> => runner.run(p, h) },
    dialplans, kv: new MemoryKv(), cdrs, emit: (e) => events.push(e), logger,
  });
  stack.onRequest = (req, tx) => {
    if (!service.handleRequest(req, tx) && tx) tx.respond(createResponse(req, 405));
  };
  await stack.start();
  accounts.add(makeAccount('bob'));
  location.addUdp('bob', PHONE.port, PHONE.address);
  // A NATed phone registered a private Contact; the binding's flow is its public source.
  location.bindings.get('bob')![0]!.requestUri = 'sip:bob@192.168.1.20:5060';
});

afterEach(async () => {
  service.close();
  await stack.stop();
});

/** Runs the call up to the bridge; returns the B-side INVITE and the A-side To tag. */
async function answeredCall(): Promise<{ bInvite: SipRequest; aTag: string }> {
  mem.inject(A_INVITE, CALLER);
  await settle();
  const bInvite = parsed(sentTo(PHONE.address, 'INVITE')[0]) as SipRequest;
  mem.inject(replyTo(bInvite, 180), PHONE);
  mem.inject(replyTo(bInvite, 200, { body: sdp('192.168.1.20'), contact: '<sip:bob@192.168.1.20:5060>' }), PHONE);
  await settle();
  const ok = parsed(sentTo(CALLER.address, 'SIP/2.0 200')[0]) as SipResponse;
  return { bInvite, aTag: ok.to.params['tag']! };
}


/** An in-dialog request from the callee (B side) toward the B2BUA. */
function bInDialog(bInvite: SipRequest, method: string, seq: number, branch: string, direction?: string): string {
  return request([
    `${method} sip:patchbay@127.0.0.1:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK${branch};rport`,
    `From: <sip:bob@example.com>;tag=btag`,
    `To: <sip:bob@example.com>;tag=${bInvite.from.params['tag']}`,
    `Call-ID: ${bInvite.callId}`,
    `CSeq: ${seq} ${method}`,
    'Contact: <sip:bob@192.168.1.20:5060>',
  ], direction ? sdp('192.168.1.20', direction) : '');
}

function statusesTo(address: string, method: string): number[] {
  return mem.sentStartingWith('SIP/2.0').filter((s) => s.target.address === address)
    .map((d) => parsed(d) as SipResponse).filter((r) => r.cseq.method === method).map((r) => r.status);
}

describe('re-INVITE glare and BYE during a re-INVITE', () => {
  it('answers 491 to the callee re-INVITE that crosses the caller re-INVITE; the first one completes', async () => {
    const { bInvite, aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    expect(relayed.body.toString()).toContain('a=sendonly');

    // The callee's own re-INVITE crosses ours before it answered: glare on the B dialog.
    mem.inject(bInDialog(bInvite, 'INVITE', 1, 'breinv', 'inactive'), PHONE);
    await settle();
    expect(statusesTo(PHONE.address, 'INVITE')).toContain(491);
    expect(sentTo(CALLER.address, 'INVITE')).toHaveLength(0);

    mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'recvonly') }), PHONE);
    await settle();
    const toCaller = sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse).find((r) => r.cseq.seq === 2);
    expect(toCaller?.body.toString()).toContain('a=recvonly');

    // Once settled, a re-INVITE from the callee goes through again (retry after 491).
    mem.inject(aInDialog('ACK', 2, aTag, 'aack2'), CALLER);
    mem.inject(bInDialog(bInvite, 'INVITE', 2, 'breinv2', 'sendonly'), PHONE);
    await settle();
    const toA = parsed(sentTo(CALLER.address, 'INVITE')[0]) as SipRequest;
    expect(toA.body.toString()).toContain('a=sendonly');
  });

  it('answers 491 to a caller re-INVITE while a callee re-INVITE is pending', async () => {
    const { bInvite, aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(bInDialog(bInvite, 'INVITE', 1, 'breinv', 'sendonly'), PHONE);
    await settle();
    expect(sentTo(CALLER.address, 'INVITE')).toHaveLength(1);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    expect(statusesTo(CALLER.address, 'INVITE')).toContain(491);
    expect(sentTo(PHONE.address, 'INVITE')).toHaveLength(1);
  });

  it('answers 500 with Retry-After to a second re-INVITE from the same side while its first is pending', async () => {
    const { aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    mem.inject(aInDialog('INVITE', 3, aTag, 'areinv3', '', 'sendrecv'), CALLER);
    await settle();
    const refused = sentTo(CALLER.address, 'SIP/2.0 500').map((d) => parsed(d) as SipResponse);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.cseq.seq).toBe(3);
    expect(refused[0]!.headers.get('Retry-After')).toMatch(/^\d+$/);
  });

  it('a BYE during a pending re-INVITE ends both sides, answers the re-INVITE 487 and writes the CDR', async () => {
    const { bInvite, aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    mem.inject(aInDialog('BYE', 3, aTag, 'abye'), CALLER);
    await settle();
    expect(statusesTo(CALLER.address, 'BYE')).toEqual([200]);
    expect(statusesTo(CALLER.address, 'INVITE').filter((st) => st >= 200)).toEqual([200, 487]);
    const bye = parsed(sentTo(PHONE.address, 'BYE')[0]) as SipRequest;
    expect(bye.callId).toBe(bInvite.callId);
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(service.activeCalls()).toEqual([]);

    // The callee answers the re-INVITE late: it is ACKed, nothing more reaches the caller.
    mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'recvonly') }), PHONE);
    await settle();
    clock.advance(2_000);
    await settle();
    const reinviteAnswers = sentTo(CALLER.address, 'SIP/2.0').map((d) => parsed(d) as SipResponse).filter((r) => r.cseq.seq === 2);
    expect(new Set(reinviteAnswers.map((r) => r.status))).toEqual(new Set([100, 487]));
    expect(sentTo(PHONE.address, 'ACK').map((d) => (parsed(d) as SipRequest).cseq.seq)).toContain(2);
  });

  it('relays an offerless re-INVITE: the ACK toward the callee waits for the caller ACK and carries its SDP answer', async () => {
    const { aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    expect(relayed.body.length).toBe(0);
    mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20', 'sendrecv') }), PHONE);
    await settle();
    const offer = sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse).find((r) => r.cseq.seq === 2);
    expect(offer?.body.toString()).toContain(`c=IN IP4 ${PHONE.address}`);
    expect(sentTo(PHONE.address, 'ACK').map((d) => (parsed(d) as SipRequest).cseq.seq)).toEqual([1]);

    mem.inject(aInDialog('ACK', 2, aTag, 'aack2', '', 'recvonly'), CALLER);
    await settle();
    const acks = sentTo(PHONE.address, 'ACK').map((d) => parsed(d) as SipRequest);
    expect(acks.map((a) => a.cseq.seq)).toEqual([1, 2]);
    expect(acks[1]!.headers.get('Content-Type')).toBe('application/sdp');
    expect(acks[1]!.body.toString()).toContain('a=recvonly');
    expect(acks[1]!.body.toString()).toContain(`c=IN IP4 ${CALLER.address}`);
  });

  it('still ACKs the callee of an offerless re-INVITE when the caller never ACKs', async () => {
    const { aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv'), CALLER);
    await settle();
    const relayed = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    mem.inject(replyTo(relayed, 200, { body: sdp('192.168.1.20') }), PHONE);
    await settle();
    for (let i = 0; i < 70; i++) {
      clock.advance(1_000);
      await settle();
    }
    const acks = sentTo(PHONE.address, 'ACK').map((d) => parsed(d) as SipRequest);
    expect(acks.map((a) => a.cseq.seq)).toEqual([1, 2]);
    expect(acks[1]!.body.length).toBe(0);
  });
});
