import { describe, expect, it } from 'vitest';
import type { EventSnapshot, StreamEvent } from '../api/index.ts';
import {
  activityOf, boardReducer, CallPhase, customerParty, EMPTY_BOARD, extensionsInCall, formatDuration, phaseOf, sortedCalls, userOf, type BoardState,
} from './board-state.ts';

const T0 = 1_800_000_000_000;
let seq = 100;

function snapshot(partial: Partial<EventSnapshot> = {}): EventSnapshot {
  return { type: 'snapshot', seq: 100, calls: [], registrations: [], extensions: [], parking: [], ...partial };
}
function ev(type: string, fields: Record<string, unknown>, at = T0): StreamEvent {
  return { seq: ++seq, time: at, type, tenant: 1, ...fields };
}
function run(state: BoardState, ...events: StreamEvent[]): BoardState {
  return events.reduce((s, event) => boardReducer(s, { type: 'event', event }), state);
}
const caller = { uri: 'sip:1001@acme.test', account: '1001' };
const callee = { uri: 'sip:2000@acme.test' };
const lamp = (user: string, state: string, callIds: string[], at: number, extra: Record<string, unknown> = {}) =>
  ev('extension.state', { accountId: Number(user), user, state, previous: 'idle', callIds, ...extra }, at);

describe('switchboard state', () => {
  it('builds calls from events: ringing, answered, held, unheld, ended', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s, ev('call.created', { callId: 'c1', direction: 'internal', caller, callee }, T0), ev('leg.ringing', { callId: 'c1', legId: 1, target: '1000@local' }, T0 + 50));
    expect(phaseOf(s.calls['c1']!)).toBe(CallPhase.Ringing);
    expect(s.calls['c1']!.ringingAt).toBe(T0 + 50);
    s = run(s, ev('call.answered', { callId: 'c1', legId: 1, caller, callee, direction: 'internal' }, T0 + 3000));
    expect(phaseOf(s.calls['c1']!)).toBe(CallPhase.Answered);
    expect(s.calls['c1']!.answeredAt).toBe(T0 + 3000);
    s = run(s, ev('call.held', { callId: 'c1', party: 'caller', by: 'api:desk@acme.test' }, T0 + 5000));
    expect(s.calls['c1']).toMatchObject({ held: 'caller', heldAt: T0 + 5000 });
    s = run(s, ev('call.unheld', { callId: 'c1', party: 'caller', by: 'x' }, T0 + 6000));
    expect(s.calls['c1']!.held).toBeUndefined();
    expect(phaseOf(s.calls['c1']!)).toBe(CallPhase.Answered);
    s = run(s, ev('call.ended', { callId: 'c1', direction: 'internal', caller, callee, hungUpBy: 'caller', status: 200, reason: 'ok' }, T0 + 9000));
    expect(s.calls).toEqual({});
    expect(s.seq).toBe(seq);
  });

  it('tracks park, consult and blind transfer from their events', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s, ev('call.created', { callId: 'c2', direction: 'inbound', caller, callee }), ev('call.answered', { callId: 'c2', caller, callee }, T0 + 1));
    s = run(s, ev('call.transfer.accepted', { callId: 'c2', legId: 1, kind: 'attended', referTo: '<sip:1004@acme.test>', by: 'api:desk@acme.test' }, T0 + 10));
    expect(s.calls['c2']!.consult).toEqual({ referTo: '<sip:1004@acme.test>', since: T0 + 10 });
    s = run(s, ev('call.transfer.failed', { callId: 'c2', legId: 1, kind: 'attended', referTo: '<sip:1004@acme.test>', status: 487 }, T0 + 20));
    expect(s.calls['c2']!.consult).toBeUndefined();
    // A phone's attended REFER is not a switchboard consult.
    s = run(s, ev('call.transfer.accepted', { callId: 'c2', legId: 1, kind: 'attended', referTo: '<sip:1004@acme.test>' }, T0 + 21));
    expect(s.calls['c2']!.consult).toBeUndefined();
    s = run(s, ev('call.transfer.accepted', { callId: 'c2', legId: 1, kind: 'blind', referTo: '<sip:1002@acme.test>', by: 'api:x' }, T0 + 22));
    expect(s.calls['c2']!.transferring?.referTo).toBe('<sip:1002@acme.test>');
    s = run(s, ev('call.transferred', { callId: 'c2', legId: 1, kind: 'blind', referTo: '<sip:1002@acme.test>' }, T0 + 23));
    expect(s.calls['c2']!.transferring).toBeUndefined();

    s = run(s, ev('call.held', { callId: 'c2', party: 'caller', by: 'x' }, T0 + 30), ev('call.parked', { callId: 'c2', slot: '71', by: 'api:desk@acme.test' }, T0 + 40));
    expect(phaseOf(s.calls['c2']!)).toBe(CallPhase.Parked);
    expect(s.calls['c2']!.held).toBeUndefined();
    expect(s.parking['71']).toEqual({ slot: '71', callId: 'c2', parkedAt: T0 + 40, parkedBy: 'api:desk@acme.test', party: caller.uri });
    s = run(s, ev('call.retrieved', { callId: 'c2', slot: '71', by: 'api:x', destination: '1000' }, T0 + 50));
    expect(s.parking).toEqual({});
    expect(phaseOf(s.calls['c2']!)).toBe(CallPhase.Answered);
    s = run(s, ev('call.parked', { callId: 'c2', slot: '72', by: 'x' }, T0 + 60), ev('call.ended', { callId: 'c2' }, T0 + 70));
    expect(s.parking).toEqual({});
  });

  it('takes a snapshot whole: hold and park times from the history, consult in progress, extensions', () => {
    const s = boardReducer(EMPTY_BOARD, {
      type: 'snapshot',
      snapshot: snapshot({
        seq: 555,
        calls: [
          { id: 'a', direction: 'inbound', state: 'answered', caller, callee, createdAt: T0, answeredAt: T0 + 1000, held: 'caller',
            history: [{ type: 'hold', at: T0 + 2000, party: 'caller', by: 'x' }, { type: 'unhold', at: T0 + 3000 }, { type: 'hold', at: T0 + 4000, party: 'caller', by: 'x' }] },
          { id: 'b', direction: 'inbound', state: 'answered', caller, callee, createdAt: T0, answeredAt: T0 + 1, parkedIn: '70', history: [] },
          { id: 'c', direction: 'inbound', state: 'answered', caller, callee, createdAt: T0, answeredAt: T0 + 1,
            history: [{ type: 'transfer', kind: 'attended', result: 'accepted', referTo: '<sip:1004@acme.test>', by: 'api:desk', at: T0 + 7 }] },
          { id: 'd', direction: 'inbound', state: 'dialing', caller, callee: { uri: 'sip:1000@acme.test', account: '1000' }, createdAt: T0 + 100, history: [], callerName: 'Ada Lovelace', note: 'VIP' },
          { direction: 'nonsense' },
        ],
        extensions: [{ accountId: 3, user: '1000', state: 'ringing', callIds: ['d'] }, { accountId: 4, user: '1004', state: 'offline', callIds: [], dnd: true }],
        parking: [{ slot: '70', callId: 'b', parkedAt: T0 + 500, caller: { uri: 'sip:1001@acme.test' }, parkedBy: 'api:desk' }],
      }),
    });
    expect(s.seq).toBe(555);
    expect(Object.keys(s.calls).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(s.calls['a']).toMatchObject({ held: 'caller', heldAt: T0 + 4000 });
    expect(s.calls['b']).toMatchObject({ parkedIn: '70', parkedAt: T0 + 500 });
    expect(s.calls['c']!.consult).toEqual({ referTo: '<sip:1004@acme.test>', since: T0 + 7 });
    expect(s.calls['d']).toMatchObject({ callerName: 'Ada Lovelace', note: 'VIP' });
    expect(s.parking['70']).toMatchObject({ party: 'sip:1001@acme.test', parkedBy: 'api:desk' });
    expect(s.extensions['1004']).toMatchObject({ state: 'offline', dnd: true, since: null });
    // Waiting first, then held, answered, parked.
    expect(sortedCalls(s).map((c) => c.id)).toEqual(['d', 'a', 'c', 'b']);
    expect(extensionsInCall(s, 'd').map((x) => x.user)).toEqual(['1000']);
    expect(activityOf(s, s.extensions['1000']!)?.text).toBe('ringing from Ada Lovelace');
  });

  it('says a consult target is consulted by the receptionist, not talking to the waiting caller', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s, ev('call.created', { callId: 'k', caller, callee }), ev('call.answered', { callId: 'k', caller, callee }, T0 + 1),
      ev('call.transfer.accepted', { callId: 'k', kind: 'attended', referTo: '<sip:1004@acme.test>', by: 'api:desk' }, T0 + 2),
      lamp('1000', 'busy', ['k'], T0), lamp('1001', 'busy', ['k'], T0), lamp('1004', 'busy', ['k'], T0 + 3));
    expect(activityOf(s, s.extensions['1004']!)).toEqual({ text: 'consulted by 1000', since: T0 + 2 });
    expect(activityOf(s, s.extensions['1000']!)?.text).toBe('talking to 1001');
  });

  it('orders waiting calls longest wait first', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s,
      ev('call.created', { callId: 'new', caller, callee }, T0 + 5000), ev('leg.ringing', { callId: 'new' }, T0 + 5000),
      ev('call.created', { callId: 'old', caller, callee }, T0), ev('leg.ringing', { callId: 'old' }, T0 + 10),
      ev('call.created', { callId: 'talk', caller, callee }, T0 - 1), ev('call.answered', { callId: 'talk', caller, callee }, T0 + 1));
    expect(sortedCalls(s).map((c) => c.id)).toEqual(['old', 'new', 'talk']);
  });

  it('keeps an extension lamp\'s since while its state stays, and its dnd unless told', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot({ extensions: [{ accountId: 1, user: '1002', state: 'idle', callIds: [], dnd: false }] }) });
    s = run(s, lamp('1002', 'busy', ['x'], T0), lamp('1002', 'busy', ['x', 'y'], T0 + 500));
    expect(s.extensions['1002']).toMatchObject({ state: 'busy', since: T0, callIds: ['x', 'y'], dnd: false });
    s = run(s, lamp('1002', 'dnd', [], T0 + 900, { dnd: true }), lamp('1002', 'busy', ['z'], T0 + 1000));
    expect(s.extensions['1002']).toMatchObject({ state: 'busy', since: T0 + 1000, dnd: true });
  });

  it('marks itself stale on resync until the next snapshot replaces everything', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s, ev('call.created', { callId: 'gone', caller, callee }));
    s = boardReducer(s, { type: 'resync' });
    expect(s.stale).toBe(true);
    expect(s.calls['gone']).toBeDefined();
    s = boardReducer(s, { type: 'snapshot', snapshot: snapshot({ seq: 900 }) });
    expect(s).toEqual({ calls: {}, extensions: {}, parking: {}, seq: 900, stale: false });
  });

  it('ignores events for calls it does not know and unknown event types', () => {
    const s0 = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    const s = run(s0, ev('call.held', { callId: 'nope', party: 'caller' }), ev('dialplan.log', { callId: 'x' }), ev('call.note', { callId: 'nope', note: 'n' }));
    expect(s.calls).toEqual({});
  });

  it('applies call notes and names from the switch', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s, ev('call.created', { callId: 'n', caller, callee, callerName: 'Grace Hopper' }), ev('call.note', { callId: 'n', note: 'wants sales', by: 'api:desk' }));
    expect(s.calls['n']).toMatchObject({ callerName: 'Grace Hopper', note: 'wants sales' });
  });

  it('takes names and notes carried in a call object of any call event', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot() });
    s = run(s, ev('call.created', { callId: 'o', caller, callee }),
      ev('call.answered', { callId: 'o', caller, callee, call: { callerName: 'Ada Lovelace', note: 'from the web form' } }, T0 + 5));
    expect(s.calls['o']).toMatchObject({ callerName: 'Ada Lovelace', note: 'from the web form', answeredAt: T0 + 5 });
    s = run(s, ev('call.note', { callId: 'o', note: '', by: 'x' }));
    expect(s.calls['o']!.note).toBe('');
  });

  it('picks the customer side of a call for call control', () => {
    const base = { id: 'x', direction: 'inbound', createdAt: T0, caller, callee };
    expect(customerParty(base, '1000')).toBe('caller');
    expect(customerParty(base, '1001')).toBe('callee');
    expect(customerParty(base, null)).toBe('caller');
  });

  it('formats numbers and times', () => {
    expect(userOf('sip:+442079460000@carrier.example;user=phone')).toBe('+442079460000');
    expect(userOf('<sip:1004@acme.test>')).toBe('1004');
    expect(formatDuration(65_400)).toBe('1:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(formatDuration(-5)).toBe('0:00');
  });

  it('shows the account label, drops a removed extension and the old tile of a renamed one', () => {
    let s = boardReducer(EMPTY_BOARD, { type: 'snapshot', snapshot: snapshot({ extensions: [{ accountId: 1, user: '1001', state: 'idle', callIds: [], dnd: false, label: 'Reception' }] }) });
    expect(s.extensions['1001']!.label).toBe('Reception');
    s = run(s, lamp('1002', 'offline', [], T0, { accountId: 2, label: 'Sales' }));
    expect(Object.keys(s.extensions).sort()).toEqual(['1001', '1002']);
    // Account 2 renamed to 1202: one tile, under the new number.
    s = run(s, lamp('1202', 'offline', [], T0 + 1, { accountId: 2, label: 'Sales' }));
    expect(Object.keys(s.extensions).sort()).toEqual(['1001', '1202']);
    s = run(s, lamp('1001', 'idle', [], T0 + 2, { accountId: 1, removed: true }));
    expect(Object.keys(s.extensions)).toEqual(['1202']);
  });
});
