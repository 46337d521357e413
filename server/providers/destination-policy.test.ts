import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY, type CallPolicy } from '../../db/index.ts';
import { checkDestination } from './destination-policy.ts';
import { formatForProvider, toE164 } from './number-format.ts';
import { ProviderCallGuard } from './provider-call-guard.ts';

const policy = (over: Partial<CallPolicy> = {}): CallPolicy => ({ ...DEFAULT_CALL_POLICY, ...over });

describe('number normalisation', () => {
  const de = { countryCode: '49' };
  it('reads +, 00 and national numbers as E.164', () => {
    expect(toE164('+4930123', de)).toBe('+4930123');
    expect(toE164('0044 20 7946 0000', de)).toBe('+442079460000');
    expect(toE164('030-123', de)).toBe('+4930123');
    expect(toE164('alice', de)).toBeUndefined();
  });
  it('without a country, a bare number is read as international (so 882… is checked as +882…)', () => {
    expect(toE164('88216001234', {})).toBe('+88216001234');
  });
  it('writes the number as the provider wants it', () => {
    expect(formatForProvider('030123', '+4930123', { ...de, numberFormat: 'e164' })).toBe('+4930123');
    expect(formatForProvider('030123', '+4930123', { ...de, numberFormat: 'e164-no-plus' })).toBe('4930123');
    expect(formatForProvider('+4930123', '+4930123', { ...de, numberFormat: 'national' })).toBe('030123');
    expect(formatForProvider('+4420', '+4420', { ...de, numberFormat: 'national' })).toBe('004420');
    expect(formatForProvider('030 123', '+4930123', de)).toBe('030123');
  });
});

describe('destination prefixes', () => {
  it('denies the default premium and satellite ranges', () => {
    for (const n of ['+88216001234', '+8811234', '+8831234', '+447012345678', '+449012345', '+19005551234', '+870123']) {
      expect(checkDestination(n, policy())).toEqual({ allowed: false, rule: expect.stringMatching(/^denied prefix \+/) });
    }
    expect(checkDestination('+4930123', policy())).toEqual({ allowed: true });
    expect(checkDestination('+447912345678', policy())).toEqual({ allowed: true });
  });
  it('the longest prefix decides between allowed and denied', () => {
    const p = policy({ allowedPrefixes: ['+88234'] });
    expect(checkDestination('+882341', p)).toEqual({ allowed: true });
    expect(checkDestination('+882991', p).allowed).toBe(false);
    expect(checkDestination('+4930', policy({ allowedPrefixes: ['+49'], deniedPrefixes: ['+4930'] }))).toEqual({ allowed: false, rule: 'denied prefix +4930' });
  });
  it('allow-list only refuses everything not listed, names included', () => {
    const p = policy({ allowListOnly: true, allowedPrefixes: ['+49'] });
    expect(checkDestination('+4930', p)).toEqual({ allowed: true });
    expect(checkDestination('+3312', p)).toEqual({ allowed: false, rule: 'allow-list only: no allowed prefix matches' });
    expect(checkDestination(undefined, p).allowed).toBe(false);
  });
});

describe('provider call caps (fake clock)', () => {
  it('calls per minute per account, rolling', () => {
    let now = 1_000_000;
    const guard = new ProviderCallGuard({ now: () => now });
    const p = policy({ callsPerMinutePerAccount: 2, maxConcurrentPerAccount: 0, maxConcurrentPerTenant: 0 });
    expect(guard.tryStart({ tenantId: 1, accountId: 7, callId: 'a', policy: p }).allowed).toBe(true);
    guard.release('a');
    expect(guard.tryStart({ tenantId: 1, accountId: 7, callId: 'b', policy: p }).allowed).toBe(true);
    guard.release('b');
    expect(guard.tryStart({ tenantId: 1, accountId: 7, callId: 'c', policy: p })).toEqual({ allowed: false, rule: '2 provider calls per minute per account' });
    expect(guard.tryStart({ tenantId: 1, accountId: 8, callId: 'd', policy: p }).allowed).toBe(true);
    now += 60_001;
    expect(guard.tryStart({ tenantId: 1, accountId: 7, callId: 'e', policy: p }).allowed).toBe(true);
  });
  it('calls per minute per tenant: the accounts of one tenant share it, another tenant does not, the window rolls', () => {
    let now = 1_000_000;
    const guard = new ProviderCallGuard({ now: () => now });
    // The account cap is far above the tenant cap, so only the tenant cap can refuse.
    const p = policy({ callsPerMinutePerTenant: 3, callsPerMinutePerAccount: 10, maxConcurrentPerAccount: 0, maxConcurrentPerTenant: 0 });
    const start = (tenantId: number, accountId: number, callId: string) => {
      const verdict = guard.tryStart({ tenantId, accountId, callId, policy: p });
      guard.release(callId);
      return verdict;
    };
    expect(start(1, 7, 'a').allowed).toBe(true);
    now += 10_000;
    expect(start(1, 8, 'b').allowed).toBe(true);
    now += 10_000;
    expect(start(1, 9, 'c').allowed).toBe(true);
    // A fourth account, and one that already called: the tenant's minute is used up.
    expect(start(1, 10, 'd')).toEqual({ allowed: false, rule: '3 provider calls per minute per tenant' });
    expect(start(1, 7, 'e')).toEqual({ allowed: false, rule: '3 provider calls per minute per tenant' });
    // Another tenant's accounts have a minute of their own.
    for (const [i, account] of [21, 22, 23].entries()) expect(start(2, account, `x${i}`).allowed).toBe(true);
    expect(start(2, 24, 'x3').allowed).toBe(false);

    // A minute after the first start its slot is free again, only that one.
    now = 1_000_000 + 60_001;
    expect(start(1, 10, 'f').allowed).toBe(true);
    expect(start(1, 11, 'g')).toEqual({ allowed: false, rule: '3 provider calls per minute per tenant' });
    now = 1_000_000 + 70_001;
    expect(start(1, 11, 'h').allowed).toBe(true);
    expect(start(1, 12, 'i').allowed).toBe(false);
  });
  it('concurrent calls per tenant; a call holds one slot for all its legs until it ends', () => {
    const guard = new ProviderCallGuard({ now: () => 0 });
    const p = policy({ maxConcurrentPerTenant: 2, callsPerMinutePerTenant: 0, callsPerMinutePerAccount: 0 });
    expect(guard.tryStart({ tenantId: 1, callId: 'a', policy: p }).allowed).toBe(true);
    expect(guard.tryStart({ tenantId: 1, callId: 'a', policy: p }).allowed).toBe(true);
    expect(guard.tryStart({ tenantId: 1, callId: 'b', policy: p }).allowed).toBe(true);
    expect(guard.tryStart({ tenantId: 1, callId: 'c', policy: p })).toEqual({ allowed: false, rule: '2 concurrent provider calls per tenant' });
    expect(guard.tryStart({ tenantId: 2, callId: 'x', policy: p }).allowed).toBe(true);
    guard.release('a');
    expect(guard.activeCalls({ tenantId: 1 })).toBe(1);
    expect(guard.tryStart({ tenantId: 1, callId: 'c', policy: p }).allowed).toBe(true);
  });
});
