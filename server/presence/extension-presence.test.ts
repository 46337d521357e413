import { describe, expect, it } from 'vitest';
import { EventBus, type ExtensionStateEvent, type PatchbayEvent } from '../events/index.ts';
import { ExtensionPresence } from './extension-presence.ts';

const party = (user: string) => ({ uri: `sip:${user}@a.test`, account: user });

function reg(type: 'registration.added' | 'registration.removed', tenantId: number, accountId: number, user: string, bindingId: string): PatchbayEvent {
  const base = { tenantId, accountId, user, domain: 'a.test', bindingId, contactUri: `sip:${user}@10.0.0.1`, source: { transport: 'udp' as const, address: '10.0.0.1', port: 5060 }, sipCallId: `r${bindingId}` };
  return type === 'registration.added' ? { ...base, type, expiresAt: Date.now() + 60_000 } : { ...base, type, reason: 'unregistered' };
}

function setup() {
  const bus = new EventBus();
  const states: string[] = [];
  bus.subscribe({ types: ['extension.state'] }, (e) => {
    const s = e as ExtensionStateEvent & { seq: number };
    states.push(`${s.user}:${s.state}`);
  });
  const presence = new ExtensionPresence({ bus, bindings: [{ id: 'b0', tenantId: 1, accountId: 1, user: '1001', expiresAt: Date.now() + 60_000 }] });
  const call = (type: string, extra: Record<string, unknown> = {}) =>
    bus.emit({ type, tenantId: 1, callId: 'c1', at: Date.now(), direction: 'outbound', caller: party('1001'), callee: party('1002'), hungUpBy: 'caller', status: 200, reason: 'OK', legId: 1, ...extra } as unknown as PatchbayEvent);
  return { bus, states, presence, call };
}

describe('ExtensionPresence', () => {
  it('walks idle → busy/ringing → busy → held → busy → idle through one call, and offline when the phone goes', () => {
    const { bus, states, presence, call } = setup();
    bus.emit(reg('registration.added', 1, 2, '1002', 'b1'));
    expect(presence.list(1).map((x) => `${x.user}:${x.state}`)).toEqual(['1001:idle', '1002:idle']);
    call('call.created');
    call('call.party.joined', { type: 'call.party.joined', accountId: 1, account: '1001', role: 'caller' });
    call('call.party.joined', { type: 'call.party.joined', accountId: 2, account: '1002', role: 'callee' });
    expect(presence.list(1).map((x) => `${x.user}:${x.state}`)).toEqual(['1001:busy', '1002:ringing']);
    call('call.answered');
    call('call.held', { party: 'callee', by: 'api' });
    call('call.unheld', { party: 'callee', by: 'api' });
    call('call.ended');
    bus.emit(reg('registration.removed', 1, 2, '1002', 'b1'));
    expect(states).toEqual([
      '1002:idle', '1001:busy', '1002:ringing', '1002:busy', '1001:held', '1002:held', '1001:busy', '1002:busy', '1001:idle', '1002:idle', '1002:offline',
    ]);
    expect(presence.list(1)[0]!.callIds).toEqual([]);
  });

  it('lists the calls an account is in, none once they end, and the next call again', () => {
    const { bus, presence, call } = setup();
    const callIds = () => presence.get(1, 1)!.callIds;
    for (const callId of ['c1', 'c2']) {
      call('call.created', { callId });
      call('call.party.joined', { type: 'call.party.joined', callId, accountId: 1, account: '1001', role: 'caller' });
    }
    expect(callIds()).toEqual(['c1', 'c2']);
    call('call.ended', { callId: 'c1' });
    expect(callIds()).toEqual(['c2']);
    call('call.party.left', { type: 'call.party.left', callId: 'c2', accountId: 1, account: '1001', role: 'caller' });
    expect(callIds()).toEqual([]);
    expect(presence.get(1, 1)!.state).toBe('idle');
    call('call.created', { callId: 'c3' });
    call('call.party.joined', { type: 'call.party.joined', callId: 'c3', accountId: 1, account: '1001', role: 'callee' });
    expect(callIds()).toEqual(['c3']);
    expect(presence.get(1, 1)!.state).toBe('ringing');
    bus.emit(reg('registration.removed', 1, 1, '1001', 'b0'));
    expect(presence.get(1, 1)!.state).toBe('ringing');
  });

  it('a leg that fails returns the account to idle while the call goes on; other tenants are not listed', () => {
    const { bus, presence, call } = setup();
    bus.emit(reg('registration.added', 2, 9, '1001', 'x'));
    call('call.created');
    call('call.party.joined', { type: 'call.party.joined', accountId: 1, account: '1001', role: 'callee' });
    call('call.party.joined', { type: 'call.party.joined', accountId: 1, account: '1001', role: 'callee' });
    call('call.party.left', { type: 'call.party.left', accountId: 1, account: '1001', role: 'callee' });
    expect(presence.list(1).map((x) => x.state)).toEqual(['ringing']);
    call('call.party.left', { type: 'call.party.left', accountId: 1, account: '1001', role: 'callee' });
    expect(presence.list(1).map((x) => x.state)).toEqual(['idle']);
    expect(presence.list(2).map((x) => `${x.accountId}:${x.state}`)).toEqual(['9:idle']);
  });

  it('DND shows as dnd when otherwise idle, stays busy during a call but says dnd: true, and offline wins', () => {
    const { bus, presence, call } = setup();
    const seen: string[] = [];
    bus.subscribe({ types: ['extension.state'] }, (e) => {
      const s = e as ExtensionStateEvent & { seq: number };
      seen.push(`${s.user}:${s.state}:${s.dnd}`);
    });
    const dnd = (on: boolean) => bus.emit({ type: 'account.dnd', tenantId: 1, accountId: 1, user: '1001', dnd: on, by: 'phone', at: Date.now() });
    dnd(true);
    expect(presence.get(1, 1)).toMatchObject({ state: 'dnd', dnd: true });
    dnd(true); // no change, no event
    call('call.created');
    call('call.party.joined', { type: 'call.party.joined', accountId: 1, account: '1001', role: 'caller' });
    dnd(false);
    dnd(true);
    call('call.ended');
    bus.emit(reg('registration.removed', 1, 1, '1001', 'b0'));
    expect(seen).toEqual(['1001:dnd:true', '1001:busy:true', '1001:busy:false', '1001:busy:true', '1001:dnd:true', '1001:offline:true']);
    presence.addAccounts([{ tenantId: 1, id: 3, username: '1003', dnd: true }]);
    expect(presence.list(1).map((x) => `${x.user}:${x.state}:${x.dnd}`)).toEqual(['1001:offline:true', '1003:offline:true']);
  });
});

describe('ExtensionPresence account changes', () => {
  it('re-reads a tenant on config.changed: a new account appears, a label is told, a removed account goes', async () => {
    const bus = new EventBus();
    const seen: ExtensionStateEvent[] = [];
    bus.subscribe({ types: ['extension.state'] }, (e) => void seen.push(e as ExtensionStateEvent));
    let accounts = [
      { tenantId: 1, id: 1, username: '1001', displayName: null },
      { tenantId: 1, id: 2, username: '1002', displayName: 'Reception' },
    ];
    let loads = 0;
    const presence = new ExtensionPresence({ bus, loadTenant: async () => { loads++; return accounts; } });
    presence.addAccounts([{ tenantId: 1, id: 1, username: '1001' }, { tenantId: 2, id: 9, username: '9009' }]);
    bus.emit({ type: 'config.changed', tenantId: 1, kind: 'account', name: '1002' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(presence.list(1)).toEqual([
      { accountId: 1, user: '1001', state: 'offline', callIds: [], dnd: false },
      { accountId: 2, user: '1002', state: 'offline', callIds: [], dnd: false, label: 'Reception' },
    ]);
    // Only what changed is told: the new account, with its label.
    expect(seen.map((e) => [e.user, e.label, e.removed])).toEqual([['1002', 'Reception', undefined]]);

    accounts = [{ tenantId: 1, id: 2, username: '1002', displayName: 'Front desk' }];
    // Changes that come while a read runs add one more read, however many they are.
    bus.emit({ type: 'config.changed', tenantId: 1, kind: 'account', name: '1002' });
    bus.emit({ type: 'config.changed', tenantId: 1, kind: 'account', name: '1001' });
    bus.emit({ type: 'config.changed', tenantId: 1, kind: 'dialplan', name: 'x' });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads).toBe(3);
    expect(presence.list(1).map((x) => [x.user, x.label])).toEqual([['1002', 'Front desk']]);
    expect(seen.slice(1).map((e) => [e.user, e.label, e.removed])).toEqual([['1002', 'Front desk', undefined], ['1001', undefined, true]]);
    // Another tenant is untouched.
    expect(presence.list(2).map((x) => x.user)).toEqual(['9009']);
    presence.close();
  });
});
