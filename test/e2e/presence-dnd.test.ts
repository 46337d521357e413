import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DOMAIN, expectSippOk, freeUdpPort, registerPhone, useSwitch } from './calls-support.ts';

/**
 * Do-not-disturb through the real switch with sipp: 1002's phone dials *78 (answered 480 "Do
 * Not Disturb on"), then a call to 1002 fails that leg with 486 without ringing the phone and
 * the caller's dialplan takes its busy path (1003 answers); *79 switches it off and 1002's phone
 * answers the next call itself.
 */

const { sw, sipp } = useSwitch(['1001', '1002', '1003']);

/** The flag as the database has it once it does (a *78 reaches it through the write journal, a flush later). */
async function storedDnd(read: () => Promise<{ dnd?: boolean } | undefined>, want: boolean): Promise<boolean | undefined> {
  let dnd: boolean | undefined;
  for (let i = 0; i < 100 && dnd !== want; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 50));
    dnd = (await read())?.dnd;
  }
  return dnd;
}

describe('do-not-disturb', () => {
  it('*78 turns DND on (486 → busy path), *79 turns it off again; the lamp and the database follow', async () => {
    const phonePort = await freeUdpPort();
    await registerPhone(sw, '1002', phonePort);
    const fallbackPort = await freeUdpPort();
    await registerPhone(sw, '1003', fallbackPort);
    await sw.useOutDialplan('1001', [
      'const r = await sys.Dial("1002@local", { ringTimeout: 10 });',
      'if (!r.answered) { sys.Log(`busy path ${r.status}`); await sys.Dial("1003@local"); }',
    ].join('\n'));
    const account = (await sw.running.db.accounts.findForAuth('1002', DOMAIN))!;

    await expectSippOk(await sipp('e2e-uac-auth-fail-480.xml', { remote: sw.target, service: '*78', user: '1002' }));
    const on = await sw.waitForEvent((e) => e.type === 'extension.state' && e['user'] === '1002' && e['dnd'] === true);
    expect(on['state']).toBe('dnd');
    expect(await storedDnd(() => sw.running.db.accounts.get(account.id), true)).toBe(true);
    const audit = await sw.running.db.audit.list({ tenantId: sw.tenantId, limit: 20 });
    expect(audit.find((a) => a.action === 'account.dnd')).toMatchObject({ actor: 'phone', target: `account:1002@${DOMAIN}`, details: { dnd: true, via: 'feature-code' } });

    // A receptionist's switchboard snapshot shows the lamp as dnd, with the flag.
    const desk = await sw.running.db.users.add({ email: `dnd${Date.now()}@acme.test`, password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: desk.id, name: 'test' })).token;
    const ws = new WebSocket(`ws://127.0.0.1:${sw.running.httpAddress.port}/api/v1/events?token=${token}`);
    const snapshot = await new Promise<{ extensions: Array<{ user: string; state: string; dnd: boolean }> }>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(data.toString()) as never));
      ws.once('error', reject);
    });
    ws.close();
    expect(snapshot.extensions.find((x) => x.user === '1002')).toMatchObject({ state: 'dnd', dnd: true });

    // 1002's phone would answer if rung; with DND it must not be: 1003 answers instead.
    const phone = await sipp('call-uas-answer.xml', { port: phonePort });
    const fallback = await sipp('call-uas-answer.xml', { port: fallbackPort });
    const before = sw.events.length;
    await expectSippOk(await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1002', user: '1001' }), fallback);
    const log = await sw.waitForEvent((e) => e.type === 'dialplan.log' && sw.events.indexOf(e) >= before);
    expect(log['message']).toBe('busy path 486');
    const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && sw.events.indexOf(e) >= before);
    const cdr = (await sw.waitForCdrs(1)).find((x) => x.callId === ended['callId'])!;
    expect(cdr.legs.map((l) => `${l.destination}:${l.status}`)).toEqual(['local:1002:486', 'local:1003:200']);

    await expectSippOk(await sipp('e2e-uac-auth-fail-480.xml', { remote: sw.target, service: '*79', user: '1002' }));
    await sw.waitForEvent((e) => e.type === 'extension.state' && e['user'] === '1002' && e['dnd'] === false && e['state'] === 'idle');
    expect(await storedDnd(() => sw.running.db.accounts.get(account.id), false)).toBe(false);
    const again = sw.events.length;
    await expectSippOk(await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1002', user: '1001' }), phone);
    expect(sw.events.some((e) => e.type === 'dialplan.log' && sw.events.indexOf(e) >= again)).toBe(false);
  });

  it('*78 from a phone of another tenant switches its own account of the same name, never ours', async () => {
    const other = await sw.running.db.tenants.add({ domain: 'dnd-other.test' });
    await sw.running.db.accounts.add({ username: '1002', domain: 'dnd-other.test', password: 's3cret-long' });
    sw.running.sip.directory.invalidate();
    const ours = (await sw.running.db.accounts.findForAuth('1002', DOMAIN))!.dnd;
    // The other tenant's 1002 dials *78: it switches its own account, never ours.
    await expectSippOk(await sipp('e2e-uac-auth-fail-480.xml', { remote: sw.target, service: '*78', user: '1002', domain: 'dnd-other.test', password: 's3cret-long' }));
    await sw.waitForEvent((e) => e.type === 'account.dnd' && e.tenantId === other.id);
    expect(await storedDnd(() => sw.running.db.accounts.findForAuth('1002', 'dnd-other.test'), true)).toBe(true);
    expect((await sw.running.db.accounts.findForAuth('1002', DOMAIN))!.dnd).toBe(ours);
  });
});
