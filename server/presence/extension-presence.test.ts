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
