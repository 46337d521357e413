import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DialplanRunParams, SandboxHost } from '../../sandbox/index.ts';
import { DigestServer, ManualClock, MemoryTransport, SipStack, createResponse, parseMessage, type SipRequest } from '../sip/index.ts';
import { CallService } from './call-service.ts';
import type { CallServiceOptions } from './call-service-deps.ts';
import { FakeAccounts, FakeLocation, makeAccount, MemoryCdrs, MemoryDialplans, MemoryKv, rawInvite, TENANT } from './call-test-support.ts';

/**
 * Legs the tenant chose by address, over the in-memory transport: a refused destination must be
 * refused before anything is sent, so the only datagrams out are the responses to the caller.
 */

const CALLER = { address: '198.51.100.5', port: 50000 };

let mem: MemoryTransport;
let location: FakeLocation;
let accounts: FakeAccounts;
let stack: SipStack;
let service: CallService;
let cdrs: MemoryCdrs;
let runs: DialplanRunParams[];
let script: (host: SandboxHost, run: number) => Promise<void>;

async function serve(extra: Partial<CallServiceOptions> = {}): Promise<void> {
  mem = new MemoryTransport();
  const logger = pino({ level: 'silent' });
  stack = new SipStack({ listen: [], transports: [mem], clock: new ManualClock(), logger });
  accounts = new FakeAccounts();
  location = new FakeLocation();
  const dialplans = new MemoryDialplans();
  dialplans.plans.set(`${TENANT.id}/out`, { js: '', sourceMap: '' });
  cdrs = new MemoryCdrs();
  runs = [];
  service = new CallService({
    stack, location, accounts, digest: new DigestServer({ secret: 'k'.repeat(32) }),
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
  accounts.add(makeAccount('alice', { outDialplan: 'out', allowedCidrs: ['198.51.100.0/24'], trustUdpSource: true }));
}

function invite(to: string): string {
  return rawInvite({ from: 'alice@example.com', to, host: '198.51.100.5', port: 50000 });
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

describe('ENUM results', () => {
  beforeEach(() => serve({
    enum: {
      suffix: 'e164.test',
      resolveNaptr: async () => [{ order: 10, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:pwn@192.168.0.1!', replacement: '' }],
    },
  }));

  it('a NAPTR pointing inside yields a leg that fails 403 unsent', async () => {
    const results: unknown[] = [];
    script = async (host) => {
      const uri = await host.call('ENUMLookup', ['+4930123']);
      results.push(uri, await host.call('Dial', [uri, {}]));
    };
    mem.inject(invite('bob@example.com'), CALLER);
    await settle();
    expect(results).toEqual(['sip:pwn@192.168.0.1', { answered: false, status: 403, reason: 'Destination not allowed', outcome: 'failed' }]);
    expect(notToCaller()).toEqual([]);
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


/** Answers every INVITE sent to `address` that has no final response yet with `status` and `contacts`. */
function answerInvitesTo(address: string, status: number, contacts: string[]): number {
  let n = 0;
  for (const d of mem.sent.filter((x) => x.target.address === address && x.text.startsWith('INVITE '))) {
    const req = parseMessage(d.data) as SipRequest;
    if (answered.has(req.callId)) continue;
    answered.add(req.callId);
    const headers = contacts.length ? { Contact: contacts.join(', ') } : undefined;
    mem.inject(createResponse(req, status, undefined, { toTag: `t${answered.size}`, headers }).toBuffer().toString(), d.target);
    n++;
  }
  return n;
}
const answered = new Set<string>();

function invitesTo(address: string): string[] {
  return mem.sent.filter((x) => x.target.address === address && x.text.startsWith('INVITE ')).map((x) => `${x.target.port} ${x.text.split('\r\n')[0]}`);
}

describe('3xx redirects', () => {
  beforeEach(() => serve());
  const UAS = '203.0.113.9';
  const ELSEWHERE = '203.0.113.50';

  it('default rm: a 302 to a stranger is not followed; the dialplan runs again with req.uri = the target', async () => {
    const results: unknown[] = [];
    script = async (host, run) => {
      if (run === 1) results.push(await host.call('Dial', [`sip:uas@${UAS}`, {}]));
    };
    mem.inject(invite('2000@example.com'), CALLER);
    await settle();
    expect(answerInvitesTo(UAS, 302, [`<sip:+88212345@${ELSEWHERE}>`])).toBe(1);
    await settle();
    expect(invitesTo(ELSEWHERE)).toEqual([]);
    expect(results).toEqual([{
      answered: false, status: 302, reason: 'Moved Temporarily', outcome: 'redirected',
      redirect: { status: 302, reason: 'Moved Temporarily', targets: [`sip:+88212345@${ELSEWHERE}`] },
    }]);
    expect(runs.map((r) => r.req.uri.user)).toEqual(['2000', '+88212345']);
    expect(runs[1]!.req.uri.raw).toBe(`sip:+88212345@${ELSEWHERE}`);
    // The re-run dialled nothing: the caller gets its result, not the old 302.
    expect(finalToCaller()).toMatchObject({ status: 480 });
  });

  it('default rm: a Contact naming one of the tenant\'s accounts rings its binding, not the Contact\'s host and port', async () => {
    accounts.add(makeAccount('bob'));
    location.addUdp('bob', 40000, '192.168.1.20');
    script = async (host) => { await host.call('Dial', [`sip:uas@${UAS}`, {}]); };
    mem.inject(invite('2000@example.com'), CALLER);
    await settle();
    answerInvitesTo(UAS, 302, [`<sip:bob@${TENANT.domain}:6379;transport=tcp>`]);
    await settle();
    expect(invitesTo('192.168.1.20')).toEqual(['40000 INVITE sip:bob@192.168.1.20:40000 SIP/2.0']);
    expect(notToCaller().filter((l) => l.includes(':6379'))).toEqual([]);
    expect(runs).toHaveLength(1);
  });

  it('rm=f follows the Contact anywhere the leg policy allows', async () => {
    script = async (host) => { await host.call('Dial', [`sip:uas@${UAS}[rm=f]`, { ringTimeout: 5 }]); };
    mem.inject(invite('2000@example.com'), CALLER);
    await settle();
    answerInvitesTo(UAS, 302, [`<sip:+88212345@${ELSEWHERE}>`, '<sip:x@10.0.0.1>']);
    await settle();
    expect(invitesTo(ELSEWHERE)).toEqual(['5060 INVITE sip:+88212345@203.0.113.50 SIP/2.0']);
    expect(invitesTo('10.0.0.1')).toEqual([]);
  });

  it('rm=m hands the targets to the script, dials nothing and runs nothing again', async () => {
    const results: unknown[] = [];
    script = async (host) => { results.push(await host.call('Dial', [`sip:uas@${UAS}[rm=m]`, {}])); };
    mem.inject(invite('2000@example.com'), CALLER);
    await settle();
    answerInvitesTo(UAS, 301, [`<sip:a@${ELSEWHERE}>;q=0.9`, `sip:b@${ELSEWHERE}`]);
    await settle();
    expect(results).toMatchObject([{ outcome: 'redirected', status: 301, redirect: { status: 301, targets: [`sip:a@${ELSEWHERE}`, `sip:b@${ELSEWHERE}`] } }]);
    expect(invitesTo(ELSEWHERE)).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(finalToCaller()).toMatchObject({ status: 301 });
  });

  it('rm=n: a redirect loop re-runs the dialplan 3 times, then the caller gets the 3xx', async () => {
    script = async (host) => { await host.call('Dial', [`sip:uas@${UAS}[rm=n]`, {}]); };
    mem.inject(invite('2000@example.com'), CALLER);
    for (let i = 0; i < 6; i++) {
      await settle();
      answerInvitesTo(UAS, 302, [`<sip:loop${i}@${ELSEWHERE}>`]);
    }
    await settle();
    expect(runs.map((r) => r.req.uri.user)).toEqual(['2000', 'loop0', 'loop1', 'loop2']);
    expect(invitesTo(UAS)).toHaveLength(4);
    expect(invitesTo(ELSEWHERE)).toEqual([]);
    expect(finalToCaller()).toMatchObject({ status: 302 });
  });
});
