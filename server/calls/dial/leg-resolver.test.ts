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
