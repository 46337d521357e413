import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compileDialplan, SandboxSupervisor } from '../../sandbox/index.ts';
import { DigestServer } from '../sip/index.ts';
import { createResponse } from '../sip/index.ts';
import { SipStack } from '../sip/index.ts';
import { CallService } from './call-service.ts';
import type { CallServiceEvent } from './call-service-deps.ts';
import {
  FakeAccounts, FakeLocation, makeAccount, MemoryCdrs, MemoryDialplans, MemoryKv, startSipp, TENANT, type SippRun,
} from './call-test-support.ts';

/**
 * End to end through real sockets: sipp UAC → Patchbay (SipStack + CallService + the real
 * dialplan sandbox) → sipp UAS. Each sipp runs one call with a 20 s timeout, so nothing hangs.
 */

let sandbox: SandboxSupervisor;
let stack: SipStack;
let service: CallService;
let accounts: FakeAccounts;
let location: FakeLocation;
let dialplans: MemoryDialplans;
let cdrs: MemoryCdrs;
let events: CallServiceEvent[];
let target: string;

beforeAll(async () => {
  sandbox = new SandboxSupervisor();
  await sandbox.start();
});

afterAll(async () => {
  await (sandbox as unknown as { stop?: () => Promise<void> }).stop?.();
});

beforeEach(async () => {
  const trace = process.env['CALLS_TRACE'] === '1';
  const logger = pino({ level: trace ? 'debug' : 'silent' });
  stack = new SipStack({
    listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger,
    onTrace: trace ? (dir, data, remote) => console.log(`--- ${dir} ${remote.address}:${remote.port}\n${data.toString()}`) : undefined,
  });
  accounts = new FakeAccounts();
  location = new FakeLocation();
  dialplans = new MemoryDialplans();
  cdrs = new MemoryCdrs();
  events = [];
  service = new CallService({
    stack, location, accounts, digest: new DigestServer({ secret: 'x'.repeat(32) }), sandbox, dialplans,
    kv: new MemoryKv(), cdrs, emit: (e) => events.push(e), logger,
  });
  stack.onRequest = (req, tx) => {
    if (!service.handleRequest(req, tx) && tx) tx.respond(createResponse(req, 405));
  };
  await stack.start();
  target = `127.0.0.1:${stack.listening()[0]!.port}`;
});

afterEach(async () => {
  service.close();
  await stack.stop();
});

async function addDialplan(name: string, source: string): Promise<void> {
  const compiled = await compileDialplan(source, 'ts');
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  dialplans.plans.set(`${TENANT.id}/${name}`, { js: compiled.js, sourceMap: compiled.sourceMap });
}

async function expectOk(...runs: SippRun[]): Promise<void> {
  const results = await Promise.all(runs.map((r) => r.done));
  for (const r of results) expect(r.code, r.output).toBe(0);
}

function uac(scenario: string, service = 'bob'): Promise<SippRun> {
  return startSipp(scenario, { remote: target, service });
}

describe('CallService with sipp', () => {
  it('rings the bindings of an account without a dialplan; the caller hangs up', async () => {
    accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-answer.xml');
    location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-answer-bye.xml'));
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('caller');
    expect(cdr!.direction).toBe('inbound');
    expect(cdr!.answeredAt).toBeDefined();
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['call.created', 'leg.ringing', 'call.answered', 'call.ended']));
    expect(service.activeCalls()).toEqual([]);
  });

  it('passes a 486 from the callee to the caller', async () => {
    accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-busy.xml');
    location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-fail-486.xml'));
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.status).toBe(486);
    expect(cdr!.legs[0]!.status).toBe(486);
  });

  it('gives up after the dialplan ring timeout: CANCEL to the callee, 408 to the caller', async () => {
    accounts.add(makeAccount('bob', { inDialplan: 'short' }));
    await addDialplan('short', 'const r = await sys.Dial("bob@local", { ringTimeout: 1 }); sys.Log(`dial ${r.status} ${r.outcome}`);');
    const uas = await startSipp('call-uas-ring-cancel.xml');
    location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-fail-408.xml'));
    await cdrs.waitFor(1);
    const logs = events.filter((e) => e.type === 'dialplan.log').map((e) => (e as { message: string }).message);
    expect(logs).toContain('dial 408 no-answer');
  });

  it('cancels the ringing leg when the caller cancels', async () => {
    accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-ring-cancel.xml');
    location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-cancel.xml'));
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.outcome).toBe('cancelled');
    expect(cdr!.hungUpBy).toBe('caller');
  });

  it('relays a BYE from the callee', async () => {
    accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-answer-hangup.xml');
    location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-answer-wait-bye.xml'));
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.hungUpBy).toBe('callee');
  });

  it('relays a hold re-INVITE with its direction attributes', async () => {
    accounts.add(makeAccount('bob'));
    const uas = await startSipp('call-uas-hold.xml');
    location.addUdp('bob', uas.port);
    await expectOk(uas, await uac('call-uac-hold.xml'));
  });

  it('forks in parallel: the second leg answers, the first gets CANCEL', async () => {
    const ringing = await startSipp('call-uas-ring-cancel.xml');
    const answering = await startSipp('call-uas-answer-late.xml');
    accounts.add(makeAccount('bob', { inDialplan: 'fork' }));
    await addDialplan('fork', `await sys.Dial("sip:a@127.0.0.1:${ringing.port}&sip:b@127.0.0.1:${answering.port}");`);
    await expectOk(ringing, answering, await uac('call-uac-answer-bye.xml'));
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.legs.map((l) => l.state)).toEqual(['cancelled', 'answered']);
  });

  it('falls back to the next group when the first is busy', async () => {
    const busy = await startSipp('call-uas-busy.xml');
    const answering = await startSipp('call-uas-answer.xml');
    accounts.add(makeAccount('bob', { inDialplan: 'seq' }));
    await addDialplan('seq', `await sys.Dial("sip:a@127.0.0.1:${busy.port}|sip:b@127.0.0.1:${answering.port}");`);
    await expectOk(busy, answering, await uac('call-uac-answer-bye.xml'));
    const [cdr] = await cdrs.waitFor(1);
    expect(cdr!.legs.map((l) => [l.state, l.status])).toEqual([['failed', 486], ['answered', 200]]);
  });

  it('answers 404 for an unknown user and 480 for an account without bindings', async () => {
    accounts.add(makeAccount('carol'));
    await expectOk(await uac('call-uac-fail-404.xml', 'nobody'));
    await expectOk(await uac('call-uac-fail-480.xml', 'carol'));
  });

  it('answers the caller from the script with sys.Respond', async () => {
    accounts.add(makeAccount('bob', { inDialplan: 'respond' }));
    await addDialplan('respond', 'await sys.Respond(403, "Not today");');
    await expectOk(await uac('call-uac-fail-403.xml'));
  });
});
