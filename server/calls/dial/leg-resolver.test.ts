import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CallServiceOptions } from '../call-service-deps.ts';
import { FakeAccounts, FakeLocation, makeAccount, MemoryDialplans, TENANT } from '../call-test-support.ts';
import { parseDialString } from './dial-string.ts';
import { MAX_NESTED_DIALPLAN_DEPTH, resolveLeg, type LegResolveContext } from './leg-resolver.ts';

function setup() {
  const accounts = new FakeAccounts();
  const location = new FakeLocation();
  const dialplans = new MemoryDialplans();
  const opts = { accounts, location, dialplans, logger: pino({ level: 'silent' }) } as unknown as CallServiceOptions;
  const resolve = async (dial: string, ctx: Partial<LegResolveContext>) => {
    const leg = parseDialString(dial, { dst: '', fromName: '', fromUriUser: '' }).groups[0]!.legs[0]!;
    const r = await resolveLeg(leg, { opts, tenant: TENANT, ...ctx });
    if (r.kind === 'dialplan') return `dialplan ${r.dialplanName}`;
    if (r.kind === 'branches') return `bindings ${r.targets.map((t) => t.flow.port).join(',')}`;
    return `failure ${r.failure.status}`;
  };
  return { accounts, location, dialplans, resolve };
}

describe('resolveLeg', () => {
  it("runs a local account's incoming dialplan unless it is in the chain or too deep", async () => {
    const { accounts, location, dialplans, resolve } = setup();
    accounts.add(makeAccount('1002', { inDialplan: 'in1002' }));
    dialplans.plans.set(`${TENANT.id}/in1002`, { js: '', sourceMap: '' });
    location.addUdp('1002', 5071);
    expect(await resolve('1002@local', { dialplanChain: [] })).toBe('dialplan in1002');
    expect(await resolve('1002@example.com', { dialplanChain: ['1001'], nestedDepth: 1 })).toBe('dialplan in1002');
    // A dialplan dialling its own account (or one already running above it) rings bindings.
    expect(await resolve('1002@local', { dialplanChain: ['1001', '1002'] })).toBe('bindings 5071');
    expect(await resolve('1002@local', { dialplanChain: [], nestedDepth: MAX_NESTED_DIALPLAN_DEPTH })).toBe('bindings 5071');
    // Callbacks (no chain) never run dialplans.
    expect(await resolve('1002@local', {})).toBe('bindings 5071');
  });

  it('falls back to bindings when the dialplan is missing, and reports accounts without any', async () => {
    const { accounts, location, resolve } = setup();
    accounts.add(makeAccount('1003', { inDialplan: 'deleted' }));
    location.addUdp('1003', 5073);
    accounts.add(makeAccount('1004'));
    accounts.add(makeAccount('1005', { disabled: true }));
    expect(await resolve('1003@local', { dialplanChain: [] })).toBe('bindings 5073');
    expect(await resolve('1004@local', { dialplanChain: [] })).toBe('failure 480');
    expect(await resolve('1005@local', { dialplanChain: [] })).toBe('failure 403');
    expect(await resolve('nobody@local', { dialplanChain: [] })).toBe('failure 404');
    expect(await resolve('1004@elsewhere.example', { dialplanChain: [] })).toBe('failure 404');
  });
});

describe('resolveLeg: sip: URI destinations', () => {
  function uriSetup(extra: Partial<CallServiceOptions>, names: Record<string, string> = {}) {
    const warnings: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line)); } });
    const opts = {
      accounts: new FakeAccounts(), location: new FakeLocation(), dialplans: new MemoryDialplans(), logger,
      resolveHost: async (host: string) => { const a = names[host]; if (!a) throw new Error('NXDOMAIN'); return a; },
      ...extra,
    } as unknown as CallServiceOptions;
    const resolve = async (dial: string) => {
      const leg = parseDialString(dial, { dst: '', fromName: '', fromUriUser: '' }).groups[0]!.legs[0]!;
      const r = await resolveLeg(leg, { opts, tenant: TENANT });
      if (r.kind === 'branches') return `send ${r.targets.map((t) => `${t.flow.transport}:${t.flow.address}:${t.flow.port}`).join(',')}`;
      return r.kind === 'failure' ? `failure ${r.failure.status} ${r.failure.reason}` : r.kind;
    };
    return { resolve, warnings };
  }

  it('refuses internal addresses, also behind a DNS name or maddr, and logs why', async () => {
    const { resolve, warnings } = uriSetup({}, { 'redis.evil.example': '127.0.0.1', 'pbx.example': '203.0.113.9' });
    expect(await resolve('<sip:x@127.0.0.1:6379;transport=tcp>')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@10.0.0.1')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@169.254.169.254')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@redis.evil.example')).toBe('failure 403 Destination not allowed');
    expect(await resolve('<sip:x@pbx.example;maddr=192.168.0.1>')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@pbx.example:6379')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@pbx.example')).toBe('send udp:203.0.113.9:5060');
    expect(await resolve('sips:x@pbx.example')).toBe('send tls:203.0.113.9:5061');
    expect(warnings).toHaveLength(6);
    expect(warnings[0]).toMatchObject({ msg: 'leg destination not allowed', address: '127.0.0.1', port: 6379, tenantId: TENANT.id });
  });

  it('lets allow-listed networks through except for the switch\'s own listeners', async () => {
    const stack = { listening: () => [{ transport: 'udp', host: '127.0.0.1', port: 5099 }] };
    const { resolve } = uriSetup({ allowedLegNetworks: ['127.0.0.0/8'], stack } as unknown as Partial<CallServiceOptions>);
    expect(await resolve('<sip:x@127.0.0.1:6379;transport=tcp>')).toBe('send tcp:127.0.0.1:6379');
    expect(await resolve('sip:x@127.0.0.1:5099')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@10.0.0.1')).toBe('failure 403 Destination not allowed');
  });

  it('refuses the switch\'s advertised public address on its own ports', async () => {
    const stack = { listening: () => [{ transport: 'udp', host: '0.0.0.0', port: 5060 }] };
    const { resolve } = uriSetup({ stack, publicAddress: '203.0.113.77' } as unknown as Partial<CallServiceOptions>);
    expect(await resolve('sip:x@203.0.113.77')).toBe('failure 403 Destination not allowed');
    expect(await resolve('sip:x@203.0.113.78')).toBe('send udp:203.0.113.78:5060');
  });

  it('does not apply to the registered bindings of local accounts', async () => {
    const { accounts, location, resolve } = setup();
    accounts.add(makeAccount('1009'));
    location.addUdp('1009', 5079, '192.168.1.50');
    expect(await resolve('1009@local', {})).toBe('bindings 5079');
  });
});
