import { describe, expect, it } from 'vitest';
import { EventBus, type PatchbayEvent } from '../../events/index.ts';
import { ExtensionPresence } from '../../presence/extension-presence.ts';
import { AccountCallCounter } from '../account-call-counter.ts';
import { CallParties } from './call-parties.ts';

const r = { id: 1, username: 'reception', maxCalls: 1 };
const s = { id: 2, username: 'sales', maxCalls: 1 };
const t = { id: 3, username: 'tech', maxCalls: 1 };

/** A call's parties wired to the real slot counter and the real extension presence. */
function setup(callId = 'c1') {
  const bus = new EventBus();
  const slots = new AccountCallCounter();
  const presence = new ExtensionPresence({
    bus,
    bindings: [r, s, t].map((a) => ({ id: `b${a.id}`, tenantId: 1, accountId: a.id, user: a.username, expiresAt: Date.now() + 60_000 })),
  });
  const events: string[] = [];
  const emit = (e: PatchbayEvent): void => {
    if (e.type === 'call.party.joined' || e.type === 'call.party.left') events.push(`${e.type.slice(11)}:${e.account}`);
    bus.emit(e);
  };
  const call = (id: string) => {
    emit({ type: 'call.created', tenantId: 1, callId: id, at: Date.now(), direction: 'inbound', caller: { uri: 'sip:x@y' }, callee: { uri: 'sip:r@y' } } as PatchbayEvent);
    return new CallParties({ callId: id, tenantId: 1, slots, emit });
  };
  const lamps = (): string => presence.list(1).map((x) => `${x.user}:${x.state}`).join(' ');
  return { bus, slots, events, call, lamps, parties: call(callId), answer: (id: string) => emit({ type: 'call.answered', tenantId: 1, callId: id, at: Date.now(), legId: 1 } as PatchbayEvent) };
}

describe('CallParties', () => {
  it('blind transfer: the leaving account frees its lamp and slot, the target takes the side', () => {
    const { parties, slots, events, lamps, answer } = setup();
    const own = parties.admit(r, 'callee', 'b');
    slots.tryTake(r.id, 'c1', r.maxCalls);
    const leg = parties.take(r, 'callee', r.maxCalls)!;
    parties.answered(leg);
    parties.seat('b', 'join');
    answer('c1');
    expect(parties.accountsOn('b')).toEqual([r]);
    expect(lamps()).toBe('reception:busy sales:idle tech:idle');
    expect(slots.tryTake(r.id, 'other', r.maxCalls)).toBe(false);

    const target = parties.take(s, 'callee', s.maxCalls)!;
    expect(lamps()).toBe('reception:busy sales:busy tech:idle');
    parties.answered(target);
    parties.seat('b', 'replace');
    expect(parties.accountsOn('b')).toEqual([s]);
    expect(lamps()).toBe('reception:idle sales:busy tech:idle');
    expect(slots.count(r.id)).toBe(0);
    expect(slots.tryTake(s.id, 'other', s.maxCalls)).toBe(false);
    expect(events).toEqual(['joined:reception', 'joined:reception', 'joined:sales', 'left:reception', 'left:reception']);
    void own;
  });

  it('a target the staying party refused leaves again; the old side stays', () => {
    const { parties, slots, lamps, answer } = setup();
    slots.tryTake(r.id, 'c1', null);
    parties.admit(r, 'caller', 'a');
    answer('c1');
    const target = parties.take(s, 'callee', s.maxCalls)!;
    parties.answered(target);
    parties.dropUnseated();
    parties.drop(target);
    expect(lamps()).toBe('reception:busy sales:idle tech:idle');
    expect(slots.count(s.id)).toBe(0);
    expect(parties.accountsOn('a')).toEqual([r]);
  });

  it('park vacates the parker’s side; a retrieving phone joins it', () => {
    const { parties, slots, lamps, answer } = setup();
    slots.tryTake(r.id, 'c1', null);
    parties.admit(r, 'callee', 'b');
    answer('c1');
    parties.vacate('b');
    expect(lamps()).toBe('reception:idle sales:idle tech:idle');
    expect(slots.tryTake(r.id, 'c2', 1)).toBe(true);
    slots.tryTake(t.id, 'c1', t.maxCalls);
    parties.seat('b', 'replace', [parties.admit(t, 'callee')]);
    expect(lamps()).toBe('reception:idle sales:idle tech:busy');
    expect(parties.accountsOn('b')).toEqual([t]);
  });

  it('a ringing leg that fails leaves once, however often it is dropped', () => {
    const { parties, slots, events } = setup();
    const leg = parties.take(s, 'callee', 1)!;
    expect(parties.take(s, 'callee', 1)).toBeDefined(); // same call: another hold, same slot
    expect(slots.tryTake(s.id, 'other', 1)).toBe(false);
    parties.drop(leg);
    parties.drop(leg);
    expect(events).toEqual(['joined:sales', 'joined:sales', 'left:sales']);
    expect(slots.count(s.id)).toBe(1);
  });

  it('refuses a take over the account’s limit and announces nothing', () => {
    const { parties, slots, events } = setup();
    slots.tryTake(s.id, 'busy-elsewhere', 1);
    expect(parties.take(s, 'callee', 1)).toBeUndefined();
    expect(events).toEqual([]);
  });

  it('an attended transfer moves the far side’s accounts into the other call; nothing is emitted after end', () => {
    const { call, slots, lamps, answer, events } = setup('x');
    const one = call('one');
    const two = call('two');
    slots.tryTake(r.id, 'one', null);
    one.admit(r, 'caller', 'a');
    slots.tryTake(s.id, 'two', null);
    two.admit(s, 'callee', 'b');
    answer('one');
    answer('two');
    const moved = two.accountsOn('b');
    one.seat('a', 'replace', moved.map((a) => one.take(a, 'callee', null)!));
    two.end();
    two.vacate('b');
    expect(one.accountsOn('a')).toEqual([s]);
    expect(slots.count(r.id)).toBe(0);
    expect(lamps()).toBe('reception:idle sales:busy tech:idle');
    expect(events.filter((e) => e.startsWith('left'))).toEqual(['left:reception']);
  });
});

describe('CallParties.dropRinging', () => {
  it('drops only the holds still ringing: seated and answered ones stay', () => {
    const { parties, slots, lamps } = setup();
    slots.tryTake(r.id, 'c1', null);
    parties.admit(r, 'caller', 'a');
    const rung = parties.take(s, 'callee', 1)!;
    const answered = parties.take(t, 'callee', 1)!;
    parties.answered(answered);
    expect(lamps()).toBe('reception:busy sales:ringing tech:ringing');
    parties.dropRinging();
    expect(lamps()).toBe('reception:busy sales:idle tech:ringing');
    expect(slots.count(s.id)).toBe(0);
    parties.drop(rung); // the cancelled branch ends later: nothing more happens
    expect(slots.count(t.id)).toBe(1);
    expect(parties.accounts().map((a) => a.username).sort()).toEqual(['reception', 'tech']);
  });
});

describe('CallParties.setAside', () => {
  it('keeps a consult target out of other placements until it is seated or dropped', () => {
    const { parties, slots, lamps, answer } = setup();
    slots.tryTake(r.id, 'c1', null);
    parties.admit(r, 'callee', 'b');
    answer('c1');
    const target = parties.take(t, 'callee', 1)!;
    parties.answered(target);
    const aside = parties.setAside();
    expect(aside).toEqual([target]);
    parties.dropUnseated(); // a transfer placed meanwhile that failed
    parties.dropRinging();
    expect(slots.count(t.id)).toBe(1);
    parties.seat('b', 'replace');
    parties.seat('b', 'join', aside);
    expect(parties.accountsOn('b')).toEqual([t]);
    expect(lamps()).toBe('reception:idle sales:idle tech:busy');
  });
});
