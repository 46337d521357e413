import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch, type SippProcess } from './calls-support.ts';

/**
 * Dialplans that fail, through the real server (startServer with its sandbox child): each failure
 * reaches the caller as the right SIP answer and the tenant's console as `dialplan.log`, and the
 * same switch then still completes a normal call.
 */

const { sw, sipp } = useSwitch(['1001']);

function uas(scenario: string, calls = 1): Promise<SippProcess> {
  return sipp(scenario, { calls });
}

function uac(scenario: string): Promise<SippProcess> {
  return sipp(scenario, { remote: sw.target, service: '2000', user: '1001' });
}

/** A normal answered call on the same switch: the failure before it left nothing broken. */
async function expectWorkingCall(): Promise<void> {
  const callee = await uas('call-uas-answer.xml');
  await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
  await expectSippOk(callee, await uac('e2e-uac-auth-answer-bye.xml'));
}

function logsOfCall(callId: unknown): Array<{ level: unknown; message: unknown; line: unknown }> {
  return sw.events
    .filter((e) => e.type === 'dialplan.log' && e['callId'] === callId)
    .map((e) => ({ level: e['level'], message: e['message'], line: e['line'] }));
}

describe('dialplan failures through the real server', () => {
  it('a throwing dialplan fails the call with 500 and logs the TypeScript line', async () => {
    const name = await sw.useOutDialplan('1001', [
      'const who: string = req.from.uri.user ?? "?";',
      'sys.Log(`throwing for ${who}`);',
      '',
      'throw new Error("boom from the dialplan");',
    ].join('\n'));
    await expectSippOk(await uac('e2e-uac-auth-fail-500.xml'));
    const first = await sw.waitForEvent((e) => e.type === 'dialplan.log' && e['message'] === 'throwing for 1001');
    expect(String(first.tenantId)).toBe(String(sw.tenantId));
    expect(first['dialplan']).toBe(name);
    const error = await sw.waitForEvent((e) => e.type === 'dialplan.log' && e['callId'] === first['callId'] && e['level'] === 'error');
    expect(String(error['message'])).toContain('boom from the dialplan');
    expect(error['line']).toBe(4);
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.callId).toBe(first['callId']);
    expect(cdr!.status).toBe('500');
    expect(cdr!.answeredAt).toBeNull();
    expect(cdr!.legs).toEqual([]);
    await expectWorkingCall();
  });

  it('an endless loop is stopped by the CPU limit: 500 to the caller', async () => {
    await sw.useOutDialplan('1001', 'sys.Log("spinning");\nwhile (true) {}\n');
    await expectSippOk(await uac('e2e-uac-auth-fail-500.xml'));
    const spin = await sw.waitForEvent((e) => e.type === 'dialplan.log' && e['message'] === 'spinning');
    const logs = logsOfCall(spin['callId']);
    expect(logs.some((l) => l.level === 'error'), JSON.stringify(logs)).toBe(true);
    await expectWorkingCall();
  });

  it('a 6th concurrent dialplan of one tenant gets 503 while five wait in sys.Dial', async () => {
    const ringing = await uas('call-uas-ring-cancel.xml', 5);
    await sw.useOutDialplan('1001', [
      'sys.Log("blocked dial");',
      `const r = await sys.Dial("sip:uas@127.0.0.1:${ringing.port}", { ringTimeout: 12 });`,
      'sys.Log("blocked dial done " + r.status);',
    ].join('\n'));
    const seenBefore = sw.events.length;
    const blocked: SippProcess[] = [];
    for (let i = 0; i < 5; i++) blocked.push(await uac('e2e-uac-auth-fail-408-480.xml'));
    // All five are inside sys.Dial once their legs ring at the UAS.
    for (let n = 1; n <= 5; n++) {
      await sw.waitForEvent((e) => e.seq > seenBefore && e.type === 'leg.ringing' && countSince(seenBefore, 'leg.ringing') >= n);
    }
    const beforeSixth = sw.events.length ? sw.events[sw.events.length - 1]!.seq : 0;
    const sixth = await uac('e2e-uac-auth-fail-503.xml');
    await expectSippOk(sixth);
    // The tenant's console says why.
    const overflow = await sw.waitForEvent((e) => e.seq > beforeSixth && e.type === 'dialplan.log' && e['level'] === 'error');
    expect(String(overflow['message'])).toMatch(/concurrent/);
    expect(String(overflow.tenantId)).toBe(String(sw.tenantId));
    await expectSippOk(ringing, ...blocked);
    const doneLines = sw.events.filter((e) => e.seq > seenBefore && e.type === 'dialplan.log' && String(e['message']).startsWith('blocked dial done'));
    expect(doneLines).toHaveLength(5);
    await expectWorkingCall();
  }, 60_000);

  it('sys.WebGet to a loopback address is refused inside the dialplan', async () => {
    let hits = 0;
    const http: Server = createServer((_req, res) => {
      hits++;
      res.end('secret');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (http.address() as AddressInfo).port;
      const callee = await uas('call-uas-answer.xml');
      await sw.useOutDialplan('1001', [
        'try {',
        `  const body = await sys.WebGet("http://127.0.0.1:${port}/");`,
        '  sys.Log("webget got " + body);',
        '} catch (err) {',
        '  sys.Log("webget refused: " + (err instanceof Error ? err.message : String(err)));',
        '}',
        `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`,
      ].join('\n'));
      await expectSippOk(callee, await uac('e2e-uac-auth-answer-bye.xml'));
      const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && String(e['message']).startsWith('webget '));
      expect(String(log['message'])).toMatch(/^webget refused: /);
      expect(hits).toBe(0);
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});

function countSince(seq: number, type: string): number {
  return sw.events.filter((e) => e.seq > seq && e.type === type).length;
}
