import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DialplanRunParams, RunResult, SandboxHost } from '../../sandbox/index.ts';
import type { TenantRef } from '../registrar/index.ts';
import { createResponse, DigestServer, ManualClock, MemoryTransport, parseMessage, SipStack, type SipRequest } from '../sip/index.ts';
import { CallService, MAX_CALLBACKS_PER_TENANT } from './call-service.ts';
import type { CallAccount, CallAccountDirectory } from './call-service-deps.ts';
import { FakeLocation, makeAccount, MemoryCdrs, MemoryDialplans, MemoryKv, rawInvite, TENANT } from './call-test-support.ts';

/**
 * sys.Callback's per-tenant cap, over the in-memory transport: callbacks whose first leg rings
 * and is never answered stay up, so a dialplan looping on sys.Callback cannot fan out calls the
 * tenant pays for; the cap is the tenant's own, another tenant still places one.
 */

const OTHER: TenantRef = { id: 8, domain: 'other.example' };
const CALLER = { address: '198.51.100.5', port: 50000 };
/** Where every callback's first leg rings; nothing there answers. */
const FIRST = { address: '203.0.113.20', port: 40000 };

/** The call fixtures' accounts know one tenant; this one knows two. */
class TwoTenantAccounts implements CallAccountDirectory {
  private readonly byDomain = new Map<string, { tenant: TenantRef; accounts: Map<string, CallAccount> }>(
    [TENANT, OTHER].map((t) => [t.domain, { tenant: t, accounts: new Map() }]),
  );
  add(tenant: TenantRef, a: CallAccount): void {
    this.byDomain.get(tenant.domain)!.accounts.set(a.username, { ...a, tenantId: tenant.id });
  }
  async tenantForDomain(domain: string): Promise<TenantRef | undefined> {
    return this.byDomain.get(domain)?.tenant;
  }
  async find(user: string, domain: string): Promise<CallAccount | undefined> {
    return this.byDomain.get(domain)?.accounts.get(user);
  }
}

let mem: MemoryTransport;
let stack: SipStack;
let service: CallService;
/** What each dialplan's sys.Callback returned, by the tenant it ran for. */
let results: Array<{ tenantId: string; result: unknown }>;

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** The n-th outgoing call of alice in `tenant`; her dialplan places one sys.Callback. */
function callFrom(tenant: TenantRef, n: number): void {
  mem.inject(rawInvite({ from: `alice@${tenant.domain}`, to: `x${n}@${tenant.domain}`, host: CALLER.address, port: CALLER.port, n }), CALLER);
}

function callbackInvites(): SipRequest[] {
  return mem.sentStartingWith('INVITE').filter((s) => s.target.address === FIRST.address).map((s) => parseMessage(s.data) as SipRequest);
}

beforeEach(async () => {
  mem = new MemoryTransport();
  const logger = pino({ level: 'silent' });
  stack = new SipStack({ listen: [], transports: [mem], clock: new ManualClock(), logger });
  const accounts = new TwoTenantAccounts();
  for (const t of [TENANT, OTHER]) {
    accounts.add(t, makeAccount('alice', { outDialplan: 'out', allowedCidrs: ['198.51.100.0/24'], trustUdpSource: true }));
  }
  const dialplans = new MemoryDialplans();
  for (const t of [TENANT, OTHER]) dialplans.plans.set(`${t.id}/out`, { js: '', sourceMap: '' });
  results = [];
  const runner = {
    run: async (p: DialplanRunParams, host: SandboxHost): Promise<RunResult> => {
      const result = await host.call('Callback', [`sip:first-${p.callId}@${FIRST.address}:${FIRST.port}`, `sip:second@${FIRST.address}:${FIRST.port + 1}`]);
      results.push({ tenantId: p.tenantId, result });
      return { status: 'completed' };
    },
  };
  service = new CallService({
    stack, location: new FakeLocation(), accounts, digest: new DigestServer({ secret: 'k'.repeat(32) }),
    sandbox: runner, dialplans, kv: new MemoryKv(), cdrs: new MemoryCdrs(), emit: () => {}, logger,
    allowedLegNetworks: ['203.0.113.0/24'],
  });
  stack.onRequest = (req, tx) => {
    if (!service.handleRequest(req, tx) && tx) tx.respond(createResponse(req, 405));
  };
  await stack.start();
});

afterEach(async () => {
  service.close();
  await stack.stop();
});

describe('sys.Callback per-tenant cap', () => {
  it(`the ${MAX_CALLBACKS_PER_TENANT + 1}th concurrent callback of a tenant is refused 503 without a packet; another tenant still places one`, async () => {
    expect(MAX_CALLBACKS_PER_TENANT).toBe(10);
    for (let n = 1; n <= MAX_CALLBACKS_PER_TENANT; n++) callFrom(TENANT, n);
    await settle();
    // Ten callbacks ring their first leg and stay up (nobody answers): none has a result yet.
    expect(callbackInvites()).toHaveLength(MAX_CALLBACKS_PER_TENANT);
    expect(results).toEqual([]);

    callFrom(TENANT, 11);
    await settle();
    expect(results).toEqual([{ tenantId: String(TENANT.id), result: { answered: false, status: 503, reason: 'Too many callbacks' } }]);
    expect(callbackInvites()).toHaveLength(MAX_CALLBACKS_PER_TENANT);

    // The other tenant's first callback rings.
    callFrom(OTHER, 12);
    await settle();
    const invites = callbackInvites();
    expect(invites).toHaveLength(MAX_CALLBACKS_PER_TENANT + 1);
    expect(results).toHaveLength(1);
  });
});
