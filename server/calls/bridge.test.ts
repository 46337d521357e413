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

/** The B2BUA over the in-memory transport: every message checked, time driven by hand. */

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

describe('B2BUA bridge', () => {
  it('sends the B leg to the binding flow with a NAT-fixed offer and a new dialog', async () => {
    const { bInvite } = await answeredCall();
    expect(sentTo(PHONE.address, 'INVITE')[0]!.target.port).toBe(PHONE.port);
    expect(bInvite.uri.host).toBe('192.168.1.20');
    expect(bInvite.callId).not.toBe('acall@192.168.0.10');
    expect(bInvite.maxForwards).toBe(69);
    expect(bInvite.body.toString()).toContain(`c=IN IP4 ${CALLER.address}`);
    expect(sentTo(CALLER.address, 'SIP/2.0 180')).toHaveLength(1);
  });

  it('answers the caller with the NAT-fixed answer and ACKs the callee with a Via', async () => {
    await answeredCall();
    const ok = parsed(sentTo(CALLER.address, 'SIP/2.0 200')[0]) as SipResponse;
    expect(ok.body.toString()).toContain(`c=IN IP4 ${PHONE.address}`);
    const ack = parsed(sentTo(PHONE.address, 'ACK')[0]) as SipRequest;
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.uri.host).toBe('192.168.1.20');
    expect(ack.headers.has('Via')).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['call.created', 'leg.ringing', 'call.answered']);
  });

  it('retransmits the 2xx to the caller until the ACK arrives', async () => {
    const { aTag } = await answeredCall();
    clock.advance(500);
    expect(sentTo(CALLER.address, 'SIP/2.0 200')).toHaveLength(2);
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    await settle();
    clock.advance(10_000);
    expect(sentTo(CALLER.address, 'SIP/2.0 200')).toHaveLength(2);
  });

  it('re-ACKs a retransmitted 2xx from the callee', async () => {
    const { bInvite } = await answeredCall();
    mem.inject(replyTo(bInvite, 200, { body: sdp('192.168.1.20'), contact: '<sip:bob@192.168.1.20:5060>' }), PHONE);
    await settle();
    expect(sentTo(PHONE.address, 'ACK')).toHaveLength(2);
  });

  it('relays a hold re-INVITE with its direction and the answer back', async () => {
    const { aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('INVITE', 2, aTag, 'areinv', '', 'sendonly'), CALLER);
    await settle();
    const reinvite = parsed(sentTo(PHONE.address, 'INVITE')[1]) as SipRequest;
    expect(reinvite.cseq).toEqual({ seq: 2, method: 'INVITE' });
    expect(reinvite.body.toString()).toContain('a=sendonly');
    expect(reinvite.body.toString()).toContain(`c=IN IP4 ${CALLER.address}`);
    mem.inject(replyTo(reinvite, 200, { toTag: 'btag', body: sdp('192.168.1.20', 'recvonly') }), PHONE);
    await settle();
    const oks = sentTo(CALLER.address, 'SIP/2.0 200').map((d) => parsed(d) as SipResponse);
    const reOk = oks.find((r) => r.cseq.seq === 2)!;
    expect(reOk.body.toString()).toContain('a=recvonly');
    expect(sentTo(PHONE.address, 'ACK').map((d) => (parsed(d) as SipRequest).cseq.seq)).toEqual([1, 2]);
  });

  it('refuses REFER with 603 and relays BYE to the other side', async () => {
    const { bInvite, aTag } = await answeredCall();
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    mem.inject(aInDialog('REFER', 2, aTag, 'arefer'), CALLER);
    await settle();
    const refused = sentTo(CALLER.address, 'SIP/2.0 603')[0]!;
    expect(refused.text).toContain('603 Transfers are disabled on this call');
    expect(events.some((e) => e.type === 'call.transfer-refused')).toBe(true);

    mem.inject(aInDialog('BYE', 3, aTag, 'abye'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 200').some((d) => d.text.includes('BYE'))).toBe(true);
    const bye = parsed(sentTo(PHONE.address, 'BYE')[0]) as SipRequest;
    expect(bye.callId).toBe(bInvite.callId);
    expect(bye.from.params['tag']).toBe(bInvite.from.params['tag']);
    expect(bye.to.params['tag']).toBe('btag');
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(cdr!.tenantId).toBe(String(TENANT.id));
    expect(service.activeCalls()).toEqual([]);
  });

  it('answers 500 to an in-dialog request with a lower CSeq', async () => {
    const { aTag } = await answeredCall();
    mem.inject(aInDialog('INFO', 5, aTag, 'ainfo5'), CALLER);
    await settle();
    mem.inject(aInDialog('INFO', 4, aTag, 'ainfo4'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 500')).toHaveLength(1);
  });

  it('runs the dialplan and resolves a failed Dial with the callee status', async () => {
    accounts.add(makeAccount('dave', { inDialplan: 'main' }));
    location.addUdp('dave', 41000, '203.0.113.30');
    dialplans.plans.set(`${TENANT.id}/main`, { js: '', sourceMap: '' });
    let dialResult: unknown;
    runner = {
      run: async (_p, host) => {
        dialResult = await host.call('Dial', ['dave@local', { ringTimeout: 30 }]);
        return { status: 'completed' };
      },
    };
    mem.inject(A_INVITE.replace(/bob@example.com/g, 'dave@example.com'), CALLER);
    await settle();
    const bInvite = parsed(sentTo('203.0.113.30', 'INVITE')[0]) as SipRequest;
    mem.inject(replyTo(bInvite, 486), { address: '203.0.113.30', port: 41000 });
    await settle();
    expect(dialResult).toEqual({ answered: false, status: 486, reason: 'Busy Here', outcome: 'busy' });
    expect(sentTo(CALLER.address, 'SIP/2.0 486')).toHaveLength(1);
  });

  it('challenges a call from a tenant account with 407 and refuses an incoming-only one', async () => {
    accounts.add(makeAccount('alice', { outDialplan: 'out' }));
    accounts.add(makeAccount('ivan', { incomingOnly: true, allowedCidrs: ['198.51.100.0/24'] }));
    mem.inject(A_INVITE.replace('alice@elsewhere.example', 'alice@example.com'), CALLER);
    await settle();
    const challenge = sentTo(CALLER.address, 'SIP/2.0 407')[0]!;
    expect(challenge.text).toContain('Proxy-Authenticate: Digest');
    mem.inject(A_INVITE.replace('alice@elsewhere.example', 'ivan@example.com').replace('acall@', 'icall@').replace('z9hG4bKainv', 'z9hG4bKiinv'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 403')).toHaveLength(1);
  });

  it('answers 483 when Max-Forwards is 0', async () => {
    mem.inject(A_INVITE.replace('Max-Forwards: 70', 'Max-Forwards: 0'), CALLER);
    await settle();
    expect(sentTo(CALLER.address, 'SIP/2.0 483')).toHaveLength(1);
  });

  it('hangs up both sides with a Reason header when the cd limit is reached', async () => {
    accounts.accounts.get('bob')!.inDialplan = 'limited';
    dialplans.plans.set(`${TENANT.id}/limited`, { js: '', sourceMap: '' });
    let dialResult: unknown;
    runner = {
      run: async (_p, host) => {
        dialResult = await host.call('Dial', ['bob@local[cd=5]', {}]);
        return { status: 'completed' };
      },
    };
    const { aTag } = await answeredCall();
    expect(dialResult).toEqual({ answered: true, status: 200, reason: 'OK', outcome: 'answered' });
    mem.inject(aInDialog('ACK', 1, aTag, 'aack'), CALLER);
    await settle();
    clock.advance(4_900);
    await settle();
    expect(sentTo(PHONE.address, 'BYE')).toHaveLength(0);
    clock.advance(200);
    await settle();
    const byes = [...sentTo(PHONE.address, 'BYE'), ...sentTo(CALLER.address, 'BYE')];
    expect(byes).toHaveLength(2);
    for (const b of byes) expect(b.text).toContain('Reason: SIP;cause=200;text="Call duration limit reached"');
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('system');
    expect(cdr!.durationSeconds).toBeGreaterThanOrEqual(0);
  });
});
