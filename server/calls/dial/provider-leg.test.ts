import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY, type CallPolicy } from '../../../db/index.ts';
import { ProviderLegs, type ProviderRecord } from '../../providers/index.ts';
import { formatUri, type NameAddr } from '../../sip/index.ts';
import type { CallServiceEvent, CallServiceOptions } from '../call-service-deps.ts';
import { FakeAccounts, TENANT } from '../call-test-support.ts';
import { parseDialString } from './dial-string.ts';
import { resolveLeg } from './leg-resolver.ts';

const carrier: ProviderRecord = {
  id: 5, tenantId: TENANT.id, name: 'carrier', serverUri: 'sip:203.0.113.20:5080', outboundProxy: 'sip:203.0.113.30', username: 'trunk',
  authUser: 'auth-trunk', password: 'pw', register: false, registerExpiry: 3600, fromUser: '4930100', customHeaders: { 'X-Tag': 'a', Via: 'forged' },
  settings: { fromHost: 'carrier.example', assertIdentity: true, privacy: 'id', numberFormat: 'e164', countryCode: '49' },
};

function setup(over: { provider?: Partial<ProviderRecord>; policy?: Partial<CallPolicy> } = {}) {
  const events: CallServiceEvent[] = [];
  const provider = { ...carrier, ...over.provider };
  const policy = { ...DEFAULT_CALL_POLICY, ...over.policy };
  const providers = new ProviderLegs({ find: async (_t, name) => (name === provider.name ? provider : undefined), policy: async () => policy });
  const opts = {
    accounts: new FakeAccounts(), logger: pino({ level: 'silent' }), emit: (e: CallServiceEvent) => events.push(e), providers,
  } as unknown as CallServiceOptions;
  const resolve = async (dial: string, dst = '') => {
    const leg = parseDialString(dial, { dst, fromName: '', fromUriUser: '' }).groups[0]!.legs[0]!;
    return { leg, r: await resolveLeg(leg, { opts, tenant: TENANT, callId: 'call-1', accountId: 9, dialplanName: 'out' }) };
  };
  return { resolve, events, providers };
}

const base: { from: NameAddr; headers: Array<[string, string]> } = {
  from: { displayName: 'Alice', uri: { scheme: 'sip', user: '1001', host: TENANT.domain, params: {}, headers: {} }, params: {} },
  headers: [['X-Script', '1']],
};

describe('provider legs', () => {
  it('number@provider: E.164 Request-URI at the server, sent to the outbound proxy with a Route, trunk From, PAI, Privacy, credentials', async () => {
    const { resolve } = setup();
    const { leg, r } = await resolve('030123@carrier');
    if (r.kind !== 'branches') throw new Error(`expected branches, got ${JSON.stringify(r)}`);
    expect(r.targets.map((t) => [formatUri(t.requestUri), t.flow])).toEqual([['sip:+4930123@203.0.113.20:5080', { transport: 'udp', address: '203.0.113.30', port: 5060 }]]);
    expect(r.targets[0]!.credentials).toEqual({ username: 'auth-trunk', password: 'pw' });
    expect(r.inTurn).toBe(true);
    const shaped = r.shape!(base);
    expect(shaped.from).toMatchObject({ displayName: 'Alice', uri: { user: '4930100', host: 'carrier.example' } });
    expect(shaped.headers).toEqual([
      ['Route', '<sip:203.0.113.30;lr>'], ['X-Script', '1'], ['X-Tag', 'a'],
      ['P-Asserted-Identity', 'Alice <sip:4930100@carrier.example>'], ['Privacy', 'id'],
    ]);
    // The policy's maximum duration became the leg's cd.
    expect(leg.options.callDurationLimitSeconds).toBe(DEFAULT_CALL_POLICY.maxDurationSeconds);
  });

  it('a bare provider leg dials the request user; fu= wins over the trunk From user; a shorter cd= stays', async () => {
    const { resolve } = setup();
    const { leg, r } = await resolve('carrier[fu=777,cd=60]', '+4420123');
    if (r.kind !== 'branches') throw new Error('expected branches');
    expect(r.targets[0]!.requestUri.user).toBe('+4420123');
    expect(r.shape!(base).from.uri.user).toBe('777');
    expect(leg.options.callDurationLimitSeconds).toBe(60);
  });

  it('a denied number: 403, a console line and call.blocked, no target at all', async () => {
    const { resolve, events } = setup();
    const { r } = await resolve('00882123@carrier');
    expect(r).toEqual({ kind: 'failure', failure: { status: 403, reason: 'Destination blocked by policy' } });
    expect(events).toEqual([
      expect.objectContaining({ type: 'dialplan.log', callId: 'call-1', dialplan: 'out', message: 'call to +882123 via carrier blocked: denied prefix +882' }),
      expect.objectContaining({ type: 'call.blocked', provider: 'carrier', number: '+882123', rule: 'denied prefix +882' }),
    ]);
  });

  it('per-account concurrency: a second call of the same account is blocked until the first ends', async () => {
    const { resolve, providers } = setup({ policy: { maxConcurrentPerAccount: 1 } });
    expect((await resolve('030@carrier')).r.kind).toBe('branches');
    const other = async () => {
      const leg = parseDialString('031@carrier', { dst: '', fromName: '', fromUriUser: '' }).groups[0]!.legs[0]!;
      return resolveLeg(leg, { opts: { logger: pino({ level: 'silent' }), emit: () => {}, providers, accounts: new FakeAccounts() } as unknown as CallServiceOptions, tenant: TENANT, callId: 'call-2', accountId: 9 });
    };
    expect(await other()).toEqual({ kind: 'failure', failure: { status: 403, reason: 'Destination blocked by policy' } });
    providers.callEnded('call-1');
    expect((await other()).kind).toBe('branches');
  });

  it('a provider server on a private network is refused unless allowed; unknown names are not providers', async () => {
    const { resolve } = setup({ provider: { serverUri: 'sip:10.1.2.3', outboundProxy: null } });
    expect((await resolve('030@carrier')).r).toEqual({ kind: 'failure', failure: { status: 403, reason: 'Destination not allowed' } });
    expect((await resolve('030@nosuch')).r).toEqual({ kind: 'failure', failure: { status: 404, reason: 'Provider not available' } });
  });
});
