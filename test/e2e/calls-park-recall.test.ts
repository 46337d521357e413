import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSipp } from './harness/index.ts';
import { DOMAIN, PASSWORD, SCENARIOS, expectSippOk, freeUdpPort, useSwitch } from './calls-support.ts';

/** Park recall with a 1 s recall time (PATCHBAY_PARK_RECALL_SEC): the parked party rings the parker's registered phone. */

const { sw, sipp } = useSwitch(['1001'], { PATCHBAY_PARK_RECALL_SEC: '1' });

async function register(user: string, port: number): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-park-reg-'));
  try {
    const injection = join(workDir, 'account.csv');
    await writeFile(injection, `SEQUENTIAL\n${user};${DOMAIN};[authentication username=${user} password=${PASSWORD}]\n`);
    const reg = await runSipp({
      scenario: join(SCENARIOS, 'register-digest.xml'), target: sw.target, localPort: port, timeoutMs: 15_000, args: ['-m', '1', '-inf', injection],
    });
    expect(reg.code, reg.stderr + reg.errors).toBe(0);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

describe('park recall', () => {
  it('a call parked by REST and not retrieved rings the parker\'s extension after the recall time', async () => {
    const user = await sw.running.db.users.add({ email: 'recall@acme.test', password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    // 1001's desk phone: registered, answers the recall (offerless INVITE, late offer).
    const deskPort = await freeUdpPort();
    await register('1001', deskPort);
    const desk = await sipp('transfer-uas-late-offer.xml', { port: deskPort });
    const callee = await sipp('park-uas-answer-parked-retrieved-bye.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:callee@127.0.0.1:${callee.port}");`);
    const before = sw.events.length;
    const caller = await sipp('e2e-uac-auth-answer-wait-bye.xml', { remote: sw.target, service: '2000', user: '1001' });
    const answered = await sw.waitForEvent((e) => e.type === 'call.answered' && sw.events.indexOf(e) >= before);
    const callId = String(answered['callId']);
    const { host, port } = sw.running.httpAddress;
    const res = await fetch(`http://${host}:${port}/api/v1/calls/${callId}/park`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ party: 'callee', slot: '79' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    // The caller left with the park (BYE); the callee waits in 79 until the recall rings 1001.
    const [c, d] = await expectSippOk(callee, desk, caller);
    expect(c!.logs).toMatch(/hold: a=sendonly/);
    expect(c!.logs).toMatch(/retrieved by: o=/);
    expect(d!.logs).toMatch(/ack sdp: c=IN IP4 127\.0\.0\.1/);
    const recalled = await sw.waitForEvent((e) => e.type === 'call.recalled' && e['callId'] === callId);
    expect(recalled['slot']).toBe('79');
    expect(recalled['destination']).toBe('1001');
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e['callId'] === callId);
    expect(ended['hungUpBy']).toBe('callee');
    const cdr = (await sw.waitForCdr(callId));
    expect(cdr.history.map((h) => [h.type, h['slot']])).toEqual([['parked', '79'], ['recalled', '79']]);
    expect(cdr.legs.map((l) => l.destination)).toEqual([`uri:sip:callee@127.0.0.1:${callee.port}`, 'local:1001']);
  });
});
