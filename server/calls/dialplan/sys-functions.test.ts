import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { BindingTarget, TenantRef } from '../../registrar/index.ts';
import type { SysFunctionName } from '../../../sandbox/index.ts';
import type { CallAccountDirectory, CallServiceOptions, CallServiceEvent, LocationLookup } from '../call-service-deps.ts';
import { makeAccount, MemoryKv } from '../call-test-support.ts';
import { LegSettings } from './leg-settings.ts';
import { DB_MAX_KEY_LENGTH, DB_MAX_VALUE_LENGTH, SysFunctions, type CurrentCallView, type DialplanScope } from './sys-functions.ts';

const ACME: TenantRef = { id: 7, domain: 'acme.example' };
const OTHER: TenantRef = { id: 8, domain: 'other.example' };

/** Location service over two tenants: bindings by user@domain. */
class TwoTenantLocation implements LocationLookup {
  private readonly rows = new Map<string, BindingTarget[]>();
  add(tenant: TenantRef, user: string, port: number, userAgent: string): void {
    const source = { transport: 'udp' as const, address: '192.0.2.10', port };
    const key = `${user}@${tenant.domain}`;
    const list = this.rows.get(key) ?? [];
    list.push({
      binding: {
        id: `${key}-${port}`, accountId: 1, tenantId: tenant.id, user, domain: tenant.domain, contactUri: `sip:${user}@192.0.2.10:${port}`,
        contactParams: {}, expiresAt: Date.now() + 600_000, callId: 'c', cseq: 1, source, path: [], registeredAt: 0, updatedAt: 0,
        natKeepAlive: false, keepAliveMethod: 'crlf', userAgent,
      },
      target: source,
      requestUri: `sip:${user}@192.0.2.10:${port}`,
    });
    this.rows.set(key, list);
  }
  lookup(user: string, domain: string): BindingTarget[] {
    return this.rows.get(`${user}@${domain}`) ?? [];
  }
}

const directory: CallAccountDirectory = {
  async tenantForDomain(domain) { return [ACME, OTHER].find((t) => t.domain === domain); },
  async find() { return undefined; },
};

function setup(extra: Partial<CallServiceOptions> = {}) {
  const kv = new MemoryKv();
  const location = new TwoTenantLocation();
  const events: CallServiceEvent[] = [];
  const calls: Array<CurrentCallView & { tenantId: number }> = [];
  const opts = {
    location, accounts: directory, kv, emit: (e: CallServiceEvent) => events.push(e), logger: pino({ level: 'silent' }), ...extra,
  } as unknown as CallServiceOptions;
  const make = (tenant: TenantRef, username: string) => {
    const scope: DialplanScope = {
      tenant, callId: `call-${tenant.id}`, account: makeAccount(username, { tenantId: tenant.id }), dialplanName: 'dp', settings: new LegSettings(),
      dial: async () => ({ answered: false, status: 480, reason: 'x', outcome: 'failed' }),
      respond: () => {},
      callback: async () => ({ answered: false, status: 480, reason: 'x' }),
    };
    const sys = new SysFunctions(scope, { opts, currentCalls: (t) => calls.filter((c) => c.tenantId === t) });
    return { scope, call: (name: SysFunctionName, ...args: unknown[]) => sys.call(name, args) };
  };
  return { kv, location, events, calls, make };
}

describe('SysFunctions', () => {
  it('keeps each tenant in its own key/value space', async () => {
    const { make } = setup();
    const a = make(ACME, 'bob');
    const b = make(OTHER, 'bob');
    await a.call('DBWrite', 'greeting', 'acme says hi');
    await b.call('DBWrite', 'greeting', 'other says hi');
    await b.call('DBWrite', 'only-other', '1');
    expect(await a.call('DBRead', 'greeting')).toBe('acme says hi');
    expect(await b.call('DBRead', 'greeting')).toBe('other says hi');
    expect(await a.call('DBGetKeys')).toEqual(['greeting']);
    expect(await a.call('DBRead', 'only-other')).toBeNull();
    await a.call('DBDelete', 'greeting');
    expect(await a.call('DBRead', 'greeting')).toBeNull();
    expect(await b.call('DBRead', 'greeting')).toBe('other says hi');
  });

  it('refuses oversized keys and values with clear errors', async () => {
    const { make, kv } = setup();
    const a = make(ACME, 'bob');
    await expect(a.call('DBWrite', 'k'.repeat(DB_MAX_KEY_LENGTH + 1), 'v')).rejects.toThrow('DBWrite: key must be 1–64 characters (got 65)');
    await expect(a.call('DBRead', '')).rejects.toThrow('DBRead: key must be 1–64 characters (got 0)');
    await expect(a.call('DBWrite', 'k', 'v'.repeat(DB_MAX_VALUE_LENGTH + 1))).rejects.toThrow('DBWrite: value must be at most 10000 characters (got 10001)');
    await expect(a.call('DBWrite', 'k', 42)).rejects.toThrow('DBWrite: value must be a string');
    await a.call('DBWrite', 'k'.repeat(64), 'v'.repeat(10_000));
    expect(kv.data.size).toBe(1);
  });

  it("GetBindings lists only the running account's bindings; IsAvailable never looks into another tenant", async () => {
    const { make, location } = setup();
    location.add(ACME, 'bob', 5070, 'Yealink');
    location.add(ACME, 'bob', 5072, 'baresip');
    location.add(ACME, 'alice', 5080, 'Snom');
    location.add(OTHER, 'bob', 5090, 'Other tenant phone');
    location.add(OTHER, 'carol', 5091, 'Other tenant phone');
    const a = make(ACME, 'bob');
    const bindings = (await a.call('GetBindings')) as Array<{ contact: string; expires: number; userAgent: string; source: string }>;
    expect(bindings.map((b) => [b.contact, b.userAgent, b.source])).toEqual([
      ['sip:bob@192.0.2.10:5070', 'Yealink', 'udp:192.0.2.10:5070'],
      ['sip:bob@192.0.2.10:5072', 'baresip', 'udp:192.0.2.10:5072'],
    ]);
    expect(bindings[0]!.expires).toBeGreaterThan(590);
    expect(await a.call('IsAvailable', 'alice')).toBe(true);
    expect(await a.call('IsAvailable', 'alice', 'ACME.example')).toBe(true);
    expect(await a.call('IsAvailable', 'nobody')).toBe(false);
    expect(await a.call('IsAvailable', 'carol')).toBe(false);
    expect(await a.call('IsAvailable', 'carol', 'other.example')).toBe(false);
    expect(await a.call('IsAvailable', 'bob', 'unknown.example')).toBe(false);
    expect(await make(OTHER, 'carol').call('IsAvailable', 'carol')).toBe(true);
  });

  it("GetCurrentCalls asks for this tenant's calls only", async () => {
    const { make, calls } = setup();
    const party = (uri: string) => ({ uri });
    calls.push({ tenantId: 7, id: 'c7', caller: party('sip:a@x'), callee: party('sip:b@x'), state: 'answered', createdAt: 0 });
    calls.push({ tenantId: 8, id: 'c8', caller: party('sip:c@y'), callee: party('sip:d@y'), state: 'dialing', createdAt: 0 });
    expect(await make(ACME, 'bob').call('GetCurrentCalls')).toEqual([
      { callId: 'c7', from: 'sip:a@x', to: 'sip:b@x', state: 'answered', startedAt: '1970-01-01T00:00:00.000Z' },
    ]);
  });

  it('refuses headers the switch owns and keeps the others for later legs', async () => {
    const { make } = setup();
    const a = make(ACME, 'bob');
    for (const name of ['Via', 'From', 'to', 'Call-ID', 'CSeq', 'Contact', 'Route', 'Record-Route', 'Max-Forwards', 'Content-Length', 'Content-Type']) {
      await expect(a.call('SetCustomSIPHeader', name, 'x')).rejects.toThrow(`${name} is set by the switch`);
    }
    await expect(a.call('SetCustomSIPHeader', 'X-Bad', 'a\r\nVia: evil')).rejects.toThrow(/one line/);
    await a.call('SetCustomSIPHeader', 'X-Account', '42');
    await a.call('SetCustomSIPHeader', 'X-Keep', 'yes');
    await a.call('RemoveCustomSIPHeader', 'x-account');
    expect(a.scope.settings.customHeaders()).toEqual([['X-Keep', 'yes']]);
    await a.call('SetFromHeader', 'Boss', '0211234567');
    await a.call('SetFromHeader', undefined, undefined, 'pbx.acme.example');
    expect(a.scope.settings.from).toEqual({ displayName: 'Boss', user: '0211234567', host: 'pbx.acme.example' });
    await a.call('ClearFromHeader');
    expect(a.scope.settings.from).toEqual({});
  });

  it('ENUMLookup goes through the configured resolver', async () => {
    const asked: string[] = [];
    const { make } = setup({
      enum: {
        suffix: 'e164.test',
        resolveNaptr: async (d) => {
          asked.push(d);
          return [{ order: 10, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^\\+(.*)$!sip:\\1@enum.example!', replacement: '' }];
        },
      },
    });
    expect(await make(ACME, 'bob').call('ENUMLookup', '+4930123')).toBe('sip:4930123@enum.example');
    expect(asked).toEqual(['3.2.1.0.3.9.4.e164.test']);
  });

  it('WebGet failures come back as plain errors', async () => {
    const { make } = setup();
    const err = await make(ACME, 'bob').call('WebGet', 'http://127.0.0.1:1/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^WebGet: .*(not allowed|refused|forbidden|private|loopback)/i);
  });

  it('Dial and Callback refuse an fh= that is not one of the tenant\'s domains before dialling anything', async () => {
    const dialled: string[] = [];
    const aliases: CallAccountDirectory = {
      async tenantForDomain(domain) { return domain === 'alias.acme.example' ? ACME : [ACME, OTHER].find((t) => t.domain === domain); },
      async find() { return undefined; },
    };
    const { make } = setup({ accounts: aliases });
    const a = make(ACME, 'bob');
    a.scope.dial = async (d) => { dialled.push(d); return { answered: false, status: 480, reason: 'x', outcome: 'failed' }; };
    a.scope.callback = async (d) => { dialled.push(d); return { answered: false, status: 480, reason: 'x' }; };
    const refused = async (...args: unknown[]) => ((await a.call(...(args as [SysFunctionName, ...unknown[]])).catch((e: unknown) => e)) as Error).message;
    expect(await refused('Dial', 'sip:x@pbx.example[fh=evil.example]')).toMatch(/^Dial: fh=evil.example is not a domain of this tenant/);
    expect(await refused('Dial', '1001@local|sip:x@pbx.example[fh=other.example]')).toMatch(/fh=other.example is not a domain/);
    expect(await refused('Dial', 'sip:x@pbx.example[fh=${dst}]')).toMatch(/'fh' cannot use variables/);
    expect(await refused('Callback', '1001@local', 'sip:x@pbx.example[fh=evil.example]')).toMatch(/^Callback: fh=evil.example/);
    expect(dialled).toEqual([]);
    await a.call('Dial', 'sip:x@pbx.example[fh=ACME.example]&sip:y@pbx.example[fh=alias.acme.example]');
    expect(dialled).toHaveLength(1);
  });
});
