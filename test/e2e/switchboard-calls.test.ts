import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { answeredCall, DOMAIN, expectSippOk, freeUdpPort, registerPhone, restApi, useSwitch } from './calls-support.ts';

/**
 * The switchboard's additions to live calls against the real switch, with sipp peers over UDP:
 * the caller's name from the tenant phonebook (REST, WS snapshot, call events), call notes that
 * follow a blind transfer into the CDR.
 */

const { sw, sipp } = useSwitch(['1001', '1002', '1003', '1004', '2002']);
const { tokenFor, api } = restApi(sw);

type Frame = Record<string, unknown> & { type: string };
type LiveCall = { id: string; state: string; callerName?: string; note?: string; heldAt?: number };

/** The frames of one event-stream connection. */
async function openStream(token: string): Promise<{ frames: Frame[]; waitFor(pred: (f: Frame) => boolean): Promise<Frame>; close(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${sw.running.httpAddress.port}/api/v1/events?token=${token}`);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    frames,
    waitFor: (pred) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = frames.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`frame not seen; saw ${frames.map((f) => f.type).join(', ')}`));
        }, 15_000);
        waiters.add(check);
        check();
      }),
    close: () => ws.close(),
  };
}

async function waitForCall(token: string, pred: (c: LiveCall) => boolean): Promise<LiveCall> {
  for (let i = 0; i < 200; i++) {
    const { items } = (await (await api(token, 'GET', '/calls')).json()) as { items: LiveCall[] };
    const hit = items.find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no such call listed: ${await (await api(token, 'GET', '/calls')).text()}`);
}

describe('switchboard calls: caller names and notes', () => {
  it('names a phonebook caller everywhere, keeps a note through a blind transfer into the CDR, and refuses other tenants', async () => {
    const desk = await tokenFor('desk@acme.test', sw.tenantId);
    const other = await sw.running.db.tenants.add({ domain: 'elsewhere.test' });
    const stranger = await tokenFor('desk@elsewhere.test', other.id, 'admin');
    // The same number in another tenant's phonebook must not name this tenant's caller.
    expect((await api(stranger, 'POST', '/contacts', { name: 'Wrong Tenant', numbers: ['+49 30 5550 1234'] })).status).toBe(201);
    const added = await api(desk, 'POST', '/contacts', { name: 'Grace Hopper', company: 'Navy', numbers: ['+49 (30) 5550-1234'] });
    expect(added.status).toBe(201);
    const contact = ((await added.json()) as { contact: { id: number } }).contact;

    await sw.useNamedDialplan('transfer', 'const port = await sys.DBRead("target-port"); await sys.Dial("sip:" + req.uri.user + "@127.0.0.1:" + port);');
    const target = await sipp('transfer-uas-late-offer.xml');
    await sw.running.db.kv.write(sw.tenantId, 'target-port', String(target.port));
    const callee = await sipp('call-uas-answer.xml');
    await sw.useInDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);

    const stream = await openStream(desk);
    await stream.waitFor((f) => f.type === 'snapshot');
    const caller = await sipp('board-uac-inbound-number-reinvite-wait-bye.xml', { remote: sw.target, service: '1001', keys: { caller: '+493055501234' } });
    const created = await stream.waitFor((f) => f.type === 'call.created');
    expect(created['callerName']).toBe('Grace Hopper');
    const call = await waitForCall(desk, (c) => c.state === 'answered');
    expect(call.callerName).toBe('Grace Hopper');
    expect((await stream.waitFor((f) => f.type === 'call.answered'))['callerName']).toBe('Grace Hopper');

    const later = await openStream(desk);
    const snapshot = await later.waitFor((f) => f.type === 'snapshot');
    expect((snapshot['calls'] as LiveCall[]).find((c) => c.id === call.id)?.callerName).toBe('Grace Hopper');
    later.close();

    // Notes: bounded, one tenant's only, then on the call and on the stream.
    const long = await api(desk, 'PUT', `/calls/${call.id}/note`, { note: 'x'.repeat(2001) });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ field: 'note' });
    expect((await api(stranger, 'PUT', `/calls/${call.id}/note`, { note: 'mine now' })).status).toBe(404);
    expect((await api(desk, 'PUT', '/calls/no-such-call/note', { note: 'x' })).status).toBe(404);
    const noted = await api(desk, 'PUT', `/calls/${call.id}/note`, { note: 'Wants the invoice, line "B", 3 pm' });
    expect(noted.status, await noted.clone().text()).toBe(200);
    expect(((await noted.json()) as { call: LiveCall }).call.note).toBe('Wants the invoice, line "B", 3 pm');
    expect(await stream.waitFor((f) => f.type === 'call.note')).toMatchObject({ callId: call.id, note: 'Wants the invoice, line "B", 3 pm', by: 'api:desk@acme.test' });

    // A blind transfer of the caller to 2002: the same call, the same note.
    const moved = await api(desk, 'POST', `/calls/${call.id}/transfer`, { party: 'caller', destination: '2002' });
    expect(moved.status, await moved.clone().text()).toBe(200);
    await stream.waitFor((f) => f.type === 'call.transferred' && f['callId'] === call.id);
    const after = ((await (await api(desk, 'GET', `/calls/${call.id}`)).json()) as { call: LiveCall }).call;
    expect(after).toMatchObject({ note: 'Wants the invoice, line "B", 3 pm', callerName: 'Grace Hopper' });

    // A phonebook change reaches the live call (the cache is dropped on the write, not after a TTL).
    expect((await api(desk, 'PATCH', `/contacts/${contact.id}`, { name: 'Rear Admiral Hopper' })).status).toBe(200);
    expect((await waitForCall(desk, (c) => c.id === call.id && c.callerName === 'Rear Admiral Hopper')).note).toBe('Wants the invoice, line "B", 3 pm');

    expect((await api(desk, 'POST', `/calls/${call.id}/hangup`)).status).toBe(200);
    const [, , callerRun] = await expectSippOk(callee, target, caller);
    expect(callerRun!.logs).toMatch(/re-invite sdp: c=IN IP4 127\.0\.0\.1/);
    const ended = await stream.waitFor((f) => f.type === 'call.ended' && f['callId'] === call.id);
    expect(ended).toMatchObject({ note: 'Wants the invoice, line "B", 3 pm', callerName: 'Rear Admiral Hopper' });
    stream.close();

    const cdr = await sw.waitForCdr(call.id);
    expect(cdr?.note).toBe('Wants the invoice, line "B", 3 pm');
    expect(cdr?.callee).toContain(`1001@${DOMAIN}`);
    const viaApi = (await (await api(desk, 'GET', `/cdrs/${cdr!.id}`)).json()) as { cdr: { note: string } };
    expect(viaApi.cdr.note).toBe('Wants the invoice, line "B", 3 pm');
  });

  it('deflects a ringing inbound call: the ringing phone gets CANCEL, the destination rings and answers, as a transfer', async () => {
    const desk = await tokenFor('deflect@acme.test', sw.tenantId);
    const other = await sw.running.db.tenants.add({ domain: 'deflect-other.test' });
    const stranger = await tokenFor('deflect@deflect-other.test', other.id);
    const aPort = await freeUdpPort();
    await registerPhone(sw, '1002', aPort);
    const extensionA = await sipp('call-uas-ring-cancel.xml', { port: aPort });
    const bPort = await freeUdpPort();
    await registerPhone(sw, '2002', bPort);
    const extensionB = await sipp('call-uas-answer.xml', { port: bPort });
    await sw.useInDialplan('1002', null);

    const before = sw.events.length;
    const outsider = await sipp('e2e-uac-inbound-answer-bye.xml', { remote: sw.target, service: '1002' });
    const rang = await sw.waitForEvent((e) => e.type === 'leg.ringing' && sw.events.indexOf(e) >= before);
    const callId = String(rang['callId']);
    const ringing = await waitForCall(desk, (c) => c.id === callId);
    expect(ringing.state).not.toBe('answered');

    expect((await api(stranger, 'POST', `/calls/${callId}/transfer`, { party: 'caller', destination: '2002' })).status).toBe(404);
    const injected = await api(desk, 'POST', `/calls/${callId}/transfer`, { party: 'caller', destination: 'sip:x@evil.example&2002@local' });
    expect(injected.status).toBe(422);
    expect((await api(desk, 'POST', `/calls/${callId}/transfer`, { party: 'callee', destination: '2002' })).status).toBe(409);

    expect((await api(desk, 'PUT', `/calls/${callId}/note`, { note: 'Asked for 2002' })).status).toBe(200);
    const moved = await api(desk, 'POST', `/calls/${callId}/transfer`, { party: 'caller', destination: '2002' });
    expect(moved.status, await moved.clone().text()).toBe(200);
    expect(((await moved.json()) as { call: LiveCall }).call).toMatchObject({ state: 'answered', note: 'Asked for 2002' });
    await expectSippOk(extensionA, extensionB, outsider);
    const done = await sw.waitForEvent((e) => e.type === 'call.transferred' && e['callId'] === callId);
    expect(done).toMatchObject({ kind: 'blind', by: 'api:deflect@acme.test', referTo: `<sip:2002@${DOMAIN}>` });
    await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    const cdr = await sw.waitForCdr(callId);
    expect(cdr?.legs.map((l) => l.destination)).toEqual(['local:1002', 'local:2002']);
    expect(cdr?.outcome).toBe('answered');
    expect(cdr?.history.map((h) => [h.type, h['result']])).toEqual([['transfer', 'accepted'], ['transfer', 'completed']]);
    expect(cdr?.note).toBe('Asked for 2002');
  });


  it('keeps the note through a switchboard attended transfer (consult, complete) into the CDR', async () => {
    const desk = await tokenFor('consult-note@acme.test', sw.tenantId);
    const targetPort = await freeUdpPort();
    await registerPhone(sw, '1004', targetPort);
    const target = await sipp('consult-uas-target-joined-bye.xml', { port: targetPort });
    const consultant = await sipp('consult-uas-consultant-wait-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:reception@127.0.0.1:${consultant.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('consult-uac-auth-held-joined-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
    expect((await api(desk, 'PUT', `/calls/${callId}/note`, { note: 'Consulted about the contract' })).status).toBe(200);
    const started = await api(desk, 'POST', `/calls/${callId}/consult`, { party: 'callee', destination: '1004' });
    expect(started.status, await started.clone().text()).toBe(200);
    expect(((await started.json()) as { call: LiveCall }).call.note).toBe('Consulted about the contract');
    const done = await api(desk, 'POST', `/calls/${callId}/consult/complete`);
    expect(done.status, await done.clone().text()).toBe(200);
    await expectSippOk(caller, consultant, target);
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['note']).toBe('Consulted about the contract');
    const cdr = await sw.waitForCdr(callId);
    expect(cdr.note).toBe('Consulted about the contract');
    expect(cdr.history.map((h) => [h.type, h['kind'], h['result']])).toEqual([['transfer', 'attended', 'accepted'], ['transfer', 'attended', 'completed']]);
  });

  it('keeps the note while the call is parked and after a phone retrieves it, into the CDR', async () => {
    const desk = await tokenFor('park-note@acme.test', sw.tenantId);
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('park-uac-auth-parked-retrieved-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
    expect((await api(desk, 'PUT', `/calls/${callId}/note`, { note: 'Parked for accounts' })).status).toBe(200);
    const parked = await api(desk, 'POST', `/calls/${callId}/park`, { party: 'caller' });
    expect(parked.status, await parked.clone().text()).toBe(200);
    const slot = ((await parked.json()) as { slot: string }).slot;
    const whileParked = ((await (await api(desk, 'GET', `/calls/${callId}`)).json()) as { call: LiveCall & { parkedIn?: string } }).call;
    expect(whileParked).toMatchObject({ note: 'Parked for accounts', parkedIn: slot });
    const retriever = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: slot, user: '1004' });
    await expectSippOk(caller, callee, retriever);
    await sw.waitForEvent((e) => e.type === 'call.retrieved' && e['callId'] === callId);
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['note']).toBe('Parked for accounts');
    expect((await sw.waitForCdr(callId)).note).toBe('Parked for accounts');
  });

  it('gives a held call the time its hold began, and none once it is taken off hold', async () => {
    const desk = await tokenFor('hold-time@acme.test', sw.tenantId);
    const callee = await sipp('control-uas-hold-unhold.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const { caller, callId } = await answeredCall(sw, () => sipp('control-uac-auth-hold-unhold.xml', { remote: sw.target, service: '2000', user: '1001' }));
    expect((await waitForCall(desk, (c) => c.id === callId)).heldAt).toBeUndefined();
    const held = await api(desk, 'POST', `/calls/${callId}/hold`, { party: 'caller' });
    expect(held.status, await held.clone().text()).toBe(200);
    const event = await sw.waitForEvent((e) => e.type === 'call.held' && e['callId'] === callId);
    expect(((await held.json()) as { call: LiveCall }).call.heldAt).toBe(event.at);
    const listed = (await waitForCall(desk, (c) => c.id === callId)) as LiveCall & { heldAt?: number };
    expect(listed.heldAt).toBe(event.at);
    expect((await api(desk, 'POST', `/calls/${callId}/unhold`)).status).toBe(200);
    expect(((await waitForCall(desk, (c) => c.id === callId)) as LiveCall).heldAt).toBeUndefined();
    expect((await api(desk, 'POST', `/calls/${callId}/hangup`)).status).toBe(200);
    await expectSippOk(callee, caller);
  });

  it('copies the note to the joined call when a phone does an attended transfer (REFER with Replaces)', async () => {
    const desk = await tokenFor('attended-note@acme.test', sw.tenantId);
    const transferor = await sipp('attended-uas-transferor-two-calls.xml', { calls: 2, keys: { refer_user: '1003' } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:first@127.0.0.1:${transferor.port}[tr=c]");`);
    await sw.useOutDialplan('1003', `await sys.Dial("sip:second@127.0.0.1:${transferor.port}[tr=c]");`);
    const before = sw.events.length;
    const transferee = await sipp('attended-uac-auth-offerless-reinvite-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const first = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const noted = String(first['callId']);
    expect((await api(desk, 'PUT', `/calls/${noted}/note`, { note: 'Transferee wants a callback' })).status).toBe(200);
    const target = await sipp('attended-uac-auth-reinvite-origin-bye.xml', { remote: sw.target, service: '2000', user: '1003' });
    await expectSippOk(transferor, transferee, target);
    const done = await sw.waitForEvent((e) => e.type === 'call.transferred' && e['kind'] === 'attended' && sw.events.indexOf(e) >= before);
    const calls = [String(done['callId']), String(done['joinedCallId'])];
    expect(calls).toContain(noted);
    for (const id of calls) expect((await sw.waitForCdr(id)).note).toBe('Transferee wants a callback');
  });
});
