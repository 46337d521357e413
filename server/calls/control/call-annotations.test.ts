import { describe, expect, it } from 'vitest';
import type { CallNoteEvent } from '../../events/index.ts';
import type { CdrRecord } from '../records/index.ts';
import { CallAnnotations } from './call-annotations.ts';
import { CallerNames, callerNumberOf } from './caller-names.ts';
import type { LiveCallView } from './control-types.ts';

const view = (over: Partial<LiveCallView> = {}): LiveCallView => ({
  id: 'c1', direction: 'inbound', state: 'answered', caller: { uri: 'sip:+49301234@carrier.example', displayName: 'SIP Says' }, callee: { uri: 'sip:1001@a.test' },
  createdAt: 1, history: [], ...over,
});

describe('caller names from the phonebook', () => {
  it('reads the number of sip: and tel: URIs, digits and leading + only', () => {
    expect(callerNumberOf('sip:+49%2030%201234@x')).toBe('+49301234');
    expect(callerNumberOf('tel:+49-30-1234;phone-context=x')).toBe('+49301234');
    expect(callerNumberOf('sips:030 1234@x')).toBe('0301234');
    expect(callerNumberOf('sip:alice@x')).toBeUndefined();
    expect(callerNumberOf('sip:x.example')).toBeUndefined();
  });

  it('loads a tenant once, matches either spelling of an international number, keeps tenants apart and reloads on invalidate', async () => {
    const books = new Map([[1, [{ name: 'Ada', numbers: ['+49 (30) 1234'] }, { name: 'Also Ada', numbers: ['+49301234'] }]], [2, [{ name: 'Bea', numbers: ['0302222'] }]]]);
    let loads = 0;
    const names = new CallerNames({ load: async (t) => { loads++; return books.get(t) ?? []; } });
    expect(names.nameFor(1, 'sip:+49301234@x')).toBeUndefined(); // not loaded yet: starts the load
    await names.ready(1);
    expect(names.ready(1)).toBeUndefined();
    expect(names.nameFor(1, 'sip:+49301234@x')).toBe('Ada');
    expect(names.nameFor(1, 'sip:0049301234@x')).toBe('Ada');
    expect(names.nameFor(1, 'sip:0302222@x')).toBeUndefined();
    await names.ready(2);
    expect(names.nameFor(2, 'sip:0302222@x')).toBe('Bea');
    expect(loads).toBe(2);

    books.set(1, [{ name: 'Renamed', numbers: ['+49301234'] }]);
    names.invalidate(1);
    await names.ready(1);
    expect(names.nameFor(1, 'sip:+49301234@x')).toBe('Renamed');
  });

  it('serves no names (and no failed calls) when the phonebook cannot be read, and tries again later', async () => {
    let fail = true;
    const errors: unknown[] = [];
    const names = new CallerNames({ load: async () => { if (fail) throw new Error('db down'); return [{ name: 'Ok', numbers: ['123'] }]; }, logger: { error: (o: unknown) => void errors.push(o) } });
    await names.ready(1);
    expect(errors).toHaveLength(1);
    expect(names.nameFor(1, 'sip:123@x')).toBeUndefined();
    fail = false;
    await names.ready(1); // the retry nameFor started while the database was still down
    await names.ready(1);
    expect(names.nameFor(1, 'sip:123@x')).toBe('Ok');
  });
});

describe('call annotations', () => {
  const setup = async () => {
    const names = new CallerNames({ load: async () => [{ name: 'Phonebook Ada', numbers: ['+49301234'] }] });
    await names.ready(1);
    const emitted: CallNoteEvent[] = [];
    return { a: new CallAnnotations({ names, emit: (e) => emitted.push(e), now: () => 42 }), emitted };
  };

  it('names the caller from the phonebook, else by the SIP display name', async () => {
    const { a } = await setup();
    expect(a.view(1, view()).callerName).toBe('Phonebook Ada');
    expect(a.view(1, view({ caller: { uri: 'sip:999@x', displayName: 'SIP Says' } })).callerName).toBe('SIP Says');
    expect(a.view(1, view({ caller: { uri: 'sip:999@x' } }))).not.toHaveProperty('callerName');
    const created = a.event({ type: 'call.created', tenantId: 1, callId: 'c1', at: 1, direction: 'inbound', caller: view().caller, callee: view().callee });
    expect(created).toMatchObject({ callerName: 'Phonebook Ada' });
  });

  it('gives the time of the current hold of the held party', async () => {
    const { a } = await setup();
    const history = [
      { type: 'hold' as const, at: 10, party: 'callee' as const, by: 'x' },
      { type: 'unhold' as const, at: 20, party: 'callee' as const, by: 'x' },
      { type: 'hold' as const, at: 30, party: 'caller' as const, by: 'x' },
    ];
    expect(a.view(1, view({ held: 'caller', history })).heldAt).toBe(30);
    expect(a.view(1, view({ history }))).not.toHaveProperty('heldAt');
  });

  it('keeps a note on the call, says so on the bus, shares it across a joined attended transfer and hands it to the CDR once', async () => {
    const { a, emitted } = await setup();
    a.setNote(1, 'c1', 'VIP', 'api:desk@a.test');
    expect(emitted).toEqual([{ type: 'call.note', tenantId: 1, callId: 'c1', at: 42, note: 'VIP', by: 'api:desk@a.test' }]);
    expect(a.view(1, view()).note).toBe('VIP');
    a.event({ type: 'call.transferred', tenantId: 1, callId: 'c2', at: 1, legId: 1, kind: 'attended', referTo: 'x', joinedCallId: 'c1' });
    expect(a.view(1, view({ id: 'c2' })).note).toBe('VIP');

    const written: CdrRecord[] = [];
    const sink = a.cdrSink({ write: (c) => void written.push(c) });
    const cdr = { callId: 'c1' } as CdrRecord;
    void sink.write(cdr);
    void sink.write(cdr);
    expect(written.map((c) => c.note)).toEqual(['VIP', undefined]);
    a.setNote(1, 'c2', '', 'api:desk@a.test');
    expect(a.view(1, view({ id: 'c2' }))).not.toHaveProperty('note');
    expect(a.notes.size).toBe(0);
  });
});
