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
import type { CallAccount, DialplanRunner } from './call-service-deps.ts';
import { FakeAccounts, FakeLocation, makeAccount, MemoryCdrs, MemoryDialplans, MemoryKv, rawInvite, TENANT } from './call-test-support.ts';

/** An account's callerId and maxCalls applied by the B2BUA, over the in-memory transport. */

const CALLER = { address: '198.51.100.5', port: 50000 };
const BOB_PHONE = { address: '203.0.113.20', port: 40000 };
const CAROL_PHONE = { address: '203.0.113.30', port: 40000 };

let mem: MemoryTransport;
let stack: SipStack;
let service: CallService;
let serviceOptions: ConstructorParameters<typeof CallService>[0];
let accounts: FakeAccounts;
let location: FakeLocation;
let dialplans: MemoryDialplans;
let runner: DialplanRunner;
let runs: number;

function invite(from: string, to: string, n: number): string {
  return rawInvite({ from, to, host: '192.168.0.10', port: 5060, n });
}

function bye(n: number, toTag: string): string {
  return [
    'BYE sip:patchbay@127.0.0.1:5060 SIP/2.0',
    `Via: SIP/2.0/UDP 192.168.0.10:5060;branch=z9hG4bKbye${n};rport`,
    `From: "Alice" <sip:alice@example.com>;tag=atag${n}`,
    `To: <sip:x@example.com>;tag=${toTag}`,
    `Call-ID: call${n}@192.168.0.10`,
    'CSeq: 2 BYE',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function sentTo(address: string, prefix: string): SentDatagram[] {
  return mem.sentStartingWith(prefix).filter((s) => s.target.address === address);
}

function invitesTo(phone: { address: string }): SipRequest[] {
  return sentTo(phone.address, 'INVITE').map((d) => parseMessage(d.data) as SipRequest);
}

function responsesToCaller(status: number): SipResponse[] {
  return sentTo(CALLER.address, `SIP/2.0 ${status}`).map((d) => parseMessage(d.data) as SipResponse);
}

function reply(req: SipRequest, status: number, toTag: string): string {
  return createResponse(req, status, undefined, {
    toTag, headers: status < 300 ? { Contact: '<sip:phone@203.0.113.99:5060>' } : undefined,
  }).toBuffer().toString();
}

/** alice places calls through the outgoing dialplan "out" (trusted by source address, no digest). */
function addAlice(extra: Partial<CallAccount> = {}): CallAccount {
  return accounts.add(makeAccount('alice', { outDialplan: 'out', allowedCidrs: ['198.51.100.0/24'], trustUdpSource: true, ...extra }));
}

/** The outgoing dialplan: optional sys calls, then one Dial; its result lands in `results`. */
function dialplanDials(dialString: string, results: unknown[], before: Array<[string, unknown[]]> = []): void {
  runner = {
    run: async (_p, host) => {
      runs++;
      for (const [name, args] of before) await host.call(name as never, args);
      results.push(await host.call('Dial', [dialString, {}]));
      return { status: 'completed' };
    },
  };
}

beforeEach(async () => {
  mem = new MemoryTransport();
  const logger = pino({ level: 'silent' });
  stack = new SipStack({ listen: [], transports: [mem], clock: new ManualClock(), logger });
  accounts = new FakeAccounts();
  location = new FakeLocation();
  dialplans = new MemoryDialplans();
  dialplans.plans.set(`${TENANT.id}/out`, { js: '', sourceMap: '' });
  runs = 0;
  runner = { run: async () => ({ status: 'completed' }) };
  serviceOptions = {
    stack, location, accounts, digest: new DigestServer({ secret: 'k'.repeat(32) }),
    sandbox: { run: (p: DialplanRunParams, h: SandboxHost): Promise<RunResult> => runner.run(p, h) },
    dialplans, kv: new MemoryKv(), cdrs: new MemoryCdrs(), emit: () => {}, logger,
  };
  service = new CallService(serviceOptions);
  stack.onRequest = (req, tx) => {
    if (!service.handleRequest(req, tx) && tx) tx.respond(createResponse(req, 405));
  };
  await stack.start();
  accounts.add(makeAccount('bob'));
  location.addUdp('bob', BOB_PHONE.port, BOB_PHONE.address);
  accounts.add(makeAccount('carol'));
  location.addUdp('carol', CAROL_PHONE.port, CAROL_PHONE.address);
});

afterEach(async () => {
  service.close();
  await stack.stop();
});

describe('source networks on INVITE (spoofable over UDP)', () => {
  it('a UDP INVITE from an allowed network still gets 407 unless the account trusts UDP sources', async () => {
    addAlice({ trustUdpSource: false });
    dialplanDials('bob@local', []);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    expect(runs).toBe(0);
    expect(invitesTo(BOB_PHONE)).toHaveLength(0);
    expect(mem.sentStartingWith('SIP/2.0 407')).toHaveLength(1);
  });
});

describe('account caller ID', () => {
  it('presents the caller ID of the placing account in the From of the B leg', async () => {
    addAlice({ callerId: '"Front Desk" <1001>' });
    dialplanDials('bob@local', []);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    const [b] = invitesTo(BOB_PHONE);
    expect(b!.from.displayName).toBe('Front Desk');
    expect(b!.from.uri.user).toBe('1001');
    expect(b!.from.uri.host).toBe(TENANT.domain);
  });

  it('lets the dial string fu= option win over the caller ID user, keeping its display name', async () => {
    addAlice({ callerId: 'Front Desk <1001>' });
    dialplanDials('bob@local[fu=2002]', []);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    const [b] = invitesTo(BOB_PHONE);
    expect(b!.from.uri.user).toBe('2002');
    expect(b!.from.displayName).toBe('Front Desk');
  });

  it('lets sys.SetFromHeader win over the caller ID', async () => {
    addAlice({ callerId: 'Front Desk <1001>' });
    dialplanDials('bob@local', [], [['SetFromHeader', ['Night Line', '3003']]]);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    const [b] = invitesTo(BOB_PHONE);
    expect(b!.from.displayName).toBe('Night Line');
    expect(b!.from.uri.user).toBe('3003');
  });

  it('keeps the caller\'s own From when the account has no caller ID, and ignores the callee\'s', async () => {
    accounts.accounts.get('bob')!.callerId = 'Bob Desk <2000>';
    mem.inject(invite('someone@elsewhere.example', 'bob@example.com', 1), CALLER);
    await settle();
    const [b] = invitesTo(BOB_PHONE);
    expect(b!.from.displayName).toBe('Alice');
    expect(b!.from.uri.user).toBe('someone');
  });
});

describe('account maxCalls', () => {
  /** alice's n-th call to carol, answered by carol's phone; returns the To tag the caller got. */
  async function answeredCallFromAlice(n: number): Promise<string> {
    mem.inject(invite('alice@example.com', 'carol@example.com', n), CALLER);
    await settle();
    const b = invitesTo(CAROL_PHONE).find((i) => !sentTo(CAROL_PHONE.address, 'ACK').some((a) => a.text.includes(i.callId)))!;
    mem.inject(reply(b, 200, `ctag${n}`), CAROL_PHONE);
    await settle();
    const ok = responsesToCaller(200).find((r) => r.callId === `call${n}@192.168.0.10`);
    expect(ok).toBeDefined();
    return ok!.to.params['tag']!;
  }

  it('refuses a third outgoing call with 403 while two are up, and accepts one after a hang-up', async () => {
    addAlice({ maxCalls: 2 });
    dialplanDials('carol@local', []);
    const tag1 = await answeredCallFromAlice(1);
    await answeredCallFromAlice(2);
    expect(runs).toBe(2);

    mem.inject(invite('alice@example.com', 'carol@example.com', 3), CALLER);
    await settle();
    const refused = responsesToCaller(403);
    expect(refused.map((r) => [r.callId, r.reason])).toEqual([['call3@192.168.0.10', 'Too many calls']]);
    expect(runs).toBe(2);
    expect(invitesTo(CAROL_PHONE)).toHaveLength(2);

    mem.inject(bye(1, tag1), CALLER);
    await settle();
    mem.inject(invite('alice@example.com', 'carol@example.com', 4), CALLER);
    await settle();
    expect(runs).toBe(3);
    expect(invitesTo(CAROL_PHONE)).toHaveLength(3);
  });

  it('fails a Dial leg to a callee at its limit with 486 without ringing its phone', async () => {
    accounts.accounts.get('bob')!.maxCalls = 1;
    // First call: straight to bob from outside, ringing.
    mem.inject(invite('someone@elsewhere.example', 'bob@example.com', 1), CALLER);
    await settle();
    expect(invitesTo(BOB_PHONE)).toHaveLength(1);

    addAlice();
    const results: unknown[] = [];
    dialplanDials('bob@local', results);
    mem.inject(invite('alice@example.com', 'bob@example.com', 2), CALLER);
    await settle();
    expect(results).toEqual([{ answered: false, status: 486, reason: 'Busy Here', outcome: 'busy' }]);
    expect(invitesTo(BOB_PHONE)).toHaveLength(1);
    expect(responsesToCaller(486).map((r) => r.callId)).toEqual(['call2@192.168.0.10']);

    // A direct incoming call to bob is refused before any dialplan or ringing.
    mem.inject(invite('other@elsewhere.example', 'bob@example.com', 3), CALLER);
    await settle();
    expect(responsesToCaller(486).map((r) => r.callId)).toEqual(['call2@192.168.0.10', 'call3@192.168.0.10']);
    expect(invitesTo(BOB_PHONE)).toHaveLength(1);
  });

  it('frees the callee slot when the leg to it fails', async () => {
    accounts.accounts.get('bob')!.maxCalls = 1;
    addAlice();
    const results: unknown[] = [];
    dialplanDials('bob@local', results);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    const [b] = invitesTo(BOB_PHONE);
    mem.inject(reply(b!, 603, 'btag'), BOB_PHONE);
    await settle();
    expect(results).toEqual([expect.objectContaining({ status: 603 })]);

    mem.inject(invite('alice@example.com', 'bob@example.com', 2), CALLER);
    await settle();
    expect(invitesTo(BOB_PHONE)).toHaveLength(2);
  });

  it('counts a call once per account however many of its legs ring it', async () => {
    accounts.accounts.get('bob')!.maxCalls = 1;
    addAlice();
    const results: unknown[] = [];
    dialplanDials(`bob@local&bob@${TENANT.domain}`, results);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    expect(invitesTo(BOB_PHONE)).toHaveLength(2);
  });
});

describe('call table cap (PATCHBAY_MAX_CALLS)', () => {
  beforeEach(() => {
    service.close();
    service = new CallService({ ...serviceOptions, maxCalls: 1 });
  });

  it('a new INVITE beyond maxCalls live calls gets 503 with Retry-After before any dialplan runs, and is counted', async () => {
    addAlice();
    dialplanDials('bob@local', []);
    mem.inject(invite('alice@example.com', 'bob@example.com', 1), CALLER);
    await settle();
    expect(invitesTo(BOB_PHONE)).toHaveLength(1); // ringing: one live call
    mem.inject(invite('alice@example.com', 'carol@example.com', 2), CALLER);
    await settle();
    const refused = mem.sentStartingWith('SIP/2.0 503');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.text).toMatch(/\r\nRetry-After: 5\r\n/);
    expect(runs).toBe(1);
    expect(invitesTo(CAROL_PHONE)).toHaveLength(0);
    expect(service.tableSizes).toMatchObject({ calls: 1, overflowRefusals: 1 });
  });
});
