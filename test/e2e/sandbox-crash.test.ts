import { describe, expect, it } from 'vitest';
import type { SequencedEvent } from './calls-support.ts';
import { expectSippOk, useSwitch, type SippProcess } from './calls-support.ts';

/**
 * DESIGN "Sandbox runtime": the dialplan child process may die at any time without taking calls
 * with it that no longer need it. The real server runs in-process; the sandbox child is killed
 * with SIGKILL (by its PID) at two moments of a call, and the next call must work again.
 */

const { sw, sipp } = useSwitch(['1001']);

function caller(scenario: string): Promise<SippProcess> {
  return sipp(scenario, { remote: sw.target, service: '2000', user: '1001' });
}

async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the current sandbox child and waits until it is really gone. */
async function killSandbox(): Promise<number> {
  // After an earlier kill the supervisor restarts the child with a backoff: wait for it.
  await until(() => sw.running.sip.sandbox.pid !== undefined, 'a sandbox child');
  const pid = sw.running.sip.sandbox.pid;
  expect(pid).toBeTypeOf('number');
  process.kill(pid!, 'SIGKILL');
  await until(() => !isAlive(pid!) && sw.running.sip.sandbox.pid !== pid, `sandbox child ${pid} to die`);
  return pid!;
}

/** The first event after index `from` that matches (events are kept in order). */
function eventAfter(from: number, pred: (e: SequencedEvent) => boolean): Promise<SequencedEvent> {
  return sw.waitForEvent((e) => sw.events.indexOf(e) >= from && pred(e));
}

async function cdrCount(): Promise<number> {
  return (await sw.running.db.cdrs.list({ tenantId: sw.tenantId, limit: 1000 })).length;
}

async function newestCdrAfter(before: number) {
  const rows = await sw.waitForCdrs(before + 1);
  expect(rows.length).toBe(before + 1);
  return rows[0]!;
}

describe('the sandbox child dies during calls', () => {
  it('a bridged call whose dialplan has finished is not affected; it ends with BYE and a CDR', async () => {
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `const r = await sys.Dial("sip:uas@127.0.0.1:${callee.port}"); sys.Log("dialled " + r.status);`);
    const before = await cdrCount();
    const mark = sw.events.length;
    const a = await caller('crash-uac-auth-answer-hold-bye.xml');

    const answered = await eventAfter(mark, (e) => e.type === 'call.answered');
    const callId = answered['callId'];
    await eventAfter(mark, (e) => e.type === 'dialplan.log' && e['message'] === 'dialled 200');
    // "Finished" means the execution is gone from the supervisor, not just that the script logged.
    await until(() => sw.running.sip.sandbox.runningFor(String(sw.tenantId)) === 0, 'the dialplan execution to finish');
    await killSandbox();
    expect(sw.events.some((e) => e.type === 'call.ended' && e['callId'] === callId)).toBe(false);

    // The caller hangs up 2.5 s after the answer: BYE relayed, 200 back, callee got its BYE.
    await expectSippOk(callee, a);
    const cdr = await newestCdrAfter(before);
    expect(cdr.callId).toBe(callId);
    expect(cdr.status).toBe('200');
    expect(cdr.hangupSide).toBe('caller');
    expect(cdr.answeredAt).not.toBeNull();
    expect(cdr.endedAt).toBeGreaterThanOrEqual(cdr.answeredAt!);
    expect(cdr.legs).toHaveLength(1);
    expect(cdr.legs[0]!.status).toBe(200);
  });

  it('a call still waiting in sys.Dial fails with 503 and its ringing leg is cancelled', async () => {
    const callee = await sipp('call-uas-ring-cancel.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}", { ringTimeout: 60 }); sys.Log("not reached");`);
    const before = await cdrCount();
    const mark = sw.events.length;
    const a = await caller('e2e-uac-auth-fail-503.xml');

    const ringing = await eventAfter(mark, (e) => e.type === 'leg.ringing');
    expect(sw.running.sip.sandbox.runningFor(String(sw.tenantId))).toBe(1);
    await killSandbox();

    // Caller: 503 then ACK. Callee: CANCEL, 200, 487, ACK — all checked by the scenarios.
    await expectSippOk(callee, a);
    const cdr = await newestCdrAfter(before);
    expect(cdr.callId).toBe(ringing['callId']);
    expect(cdr.status).toBe('503');
    expect(cdr.answeredAt).toBeNull();
    expect(sw.events.some((e) => sw.events.indexOf(e) >= mark && e.type === 'dialplan.log' && e['message'] === 'not reached')).toBe(false);
    const failure = await eventAfter(mark, (e) => e.type === 'dialplan.log' && e['level'] === 'error');
    expect(String(failure['message'])).toMatch(/sandbox/);
  });

  it('the next call after the restart runs its dialplan and succeeds', async () => {
    const killed = await killSandbox();
    const callee = await sipp('call-uas-answer.xml');
    await sw.useOutDialplan('1001', `sys.Log("after restart"); await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const before = await cdrCount();
    const mark = sw.events.length;
    await expectSippOk(callee, await caller('e2e-uac-auth-answer-bye.xml'));
    await eventAfter(mark, (e) => e.type === 'dialplan.log' && e['message'] === 'after restart');
    const cdr = await newestCdrAfter(before);
    expect(cdr.status).toBe('200');
    expect(cdr.hangupSide).toBe('caller');
    const pid = sw.running.sip.sandbox.pid;
    expect(pid).toBeTypeOf('number');
    expect(pid).not.toBe(killed);
  });
});
