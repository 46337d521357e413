import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { expectSippOk, useSwitch } from './calls-support.ts';

/**
 * 3xx from a remote party, through the real server with sipp: a 302 is the far end choosing the
 * switch's next destination, so by default it is only followed to the tenant's own accounts.
 * The first sipp answers 302 with `Contact: <sip:+88212345@127.0.0.1:PORT2>`.
 */

const { sw, sipp } = useSwitch(['1001', '1002']);

let listener: Socket | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (listener ? listener.close(() => r()) : r()));
  listener = undefined;
});

/** PORT2 when nothing may reach it: a bare UDP socket that records every datagram. */
async function silentPeer(): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  listener = createSocket('udp4');
  listener.on('message', (m) => received.push(m.toString('utf8').split('\r\n')[0]!));
  await new Promise<void>((r) => listener!.bind(0, '127.0.0.1', () => r()));
  return { port: listener.address().port, received };
}

function caller(scenario: string, service: string) {
  return sipp(scenario, { remote: sw.target, service, user: '1001' });
}

async function dialplanLog(callId: string | undefined, prefix: string): Promise<string> {
  const e = await sw.waitForEvent((x) => x.type === 'dialplan.log' && (!callId || x['callId'] === callId) && String(x['message']).startsWith(prefix));
  return String(e['message']);
}

describe('3xx redirects', () => {
  it('default rm: the 302 target gets no INVITE; the dialplan runs again with req.uri = the target', async () => {
    const peer = await silentPeer();
    const first = await sipp('redirect-uas-302.xml', { keys: { redirect_port: String(peer.port) } });
    await sw.useOutDialplan('1001', [
      'if (req.uri.user === "3001") {',
      `  const r = await sys.Dial("sip:uas@127.0.0.1:${first.port}");`,
      '  sys.Log("dial " + r.status + " " + r.outcome + " " + JSON.stringify(r.redirect?.targets));',
      '} else {',
      '  sys.Log("re-run for " + req.uri.raw);',
      '}',
    ].join('\n'));
    await expectSippOk(first, await caller('e2e-uac-auth-fail-480.xml', '3001'));
    expect(await dialplanLog(undefined, 'dial ')).toBe(`dial 302 redirected ["sip:+88212345@127.0.0.1:${peer.port}"]`);
    expect(await dialplanLog(undefined, 're-run for ')).toBe(`re-run for sip:+88212345@127.0.0.1:${peer.port}`);
    const [cdr] = await sw.waitForCdrs(1);
    expect(cdr!.legs.map((l) => [l.destination, l.status])).toEqual([[`uri:sip:uas@127.0.0.1:${first.port}`, 302]]);
    const rung = sw.events.filter((e) => e.type === 'leg.ringing' && e['callId'] === cdr!.callId).map((e) => String(e['target']));
    expect(rung.filter((t) => t.includes(String(peer.port)))).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.received).toEqual([]);
  });

  it('rm=n inside a callee account\'s dialplan: that nested dialplan runs again with req.uri = the target', async () => {
    const peer = await silentPeer();
    const first = await sipp('redirect-uas-302.xml', { keys: { redirect_port: String(peer.port) } });
    await sw.useInDialplan('1002', [
      'if (req.uri.user === "1002") {',
      `  const r = await sys.Dial("sip:uas@127.0.0.1:${first.port}[rm=n]");`,
      '  sys.Log("nested dial " + r.status + " " + r.outcome);',
      '} else {',
      '  sys.Log("nested re-run for " + req.uri.user + " " + req.uri.port);',
      '}',
    ].join('\n'));
    await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    try {
      await expectSippOk(first, await caller('e2e-uac-auth-fail-480.xml', '1002'));
      expect(await dialplanLog(undefined, 'nested dial ')).toBe('nested dial 302 redirected');
      expect(await dialplanLog(undefined, 'nested re-run for ')).toBe(`nested re-run for +88212345 ${peer.port}`);
      await new Promise((r) => setTimeout(r, 300));
      expect(peer.received).toEqual([]);
    } finally {
      await sw.useInDialplan('1002', null);
    }
  });

  it('rm=f: the 302 target is dialled and answers', async () => {
    const second = await sipp('call-uas-answer.xml');
    const first = await sipp('redirect-uas-302.xml', { keys: { redirect_port: String(second.port) } });
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${first.port}[rm=f]");`);
    const before = (await sw.running.db.cdrs.list({ tenantId: sw.tenantId, limit: 1000 })).length;
    await expectSippOk(first, second, await caller('e2e-uac-auth-answer-bye.xml', '3002'));
    const rows = await sw.waitForCdrs(before + 1);
    const legs = rows[0]!.legs.map((l) => [l.destination, l.status]);
    expect(legs).toEqual([[`uri:sip:uas@127.0.0.1:${first.port}`, 302], [`uri:sip:+88212345@127.0.0.1:${second.port}`, 200]]);
  });

  it('rm=m: the script gets the targets, nothing is dialled, the caller gets the 302', async () => {
    const peer = await silentPeer();
    const first = await sipp('redirect-uas-302.xml', { keys: { redirect_port: String(peer.port) } });
    await sw.useOutDialplan('1001', [
      `const r = await sys.Dial("sip:uas@127.0.0.1:${first.port}[rm=m]");`,
      'sys.Log("manual " + JSON.stringify(r.redirect));',
    ].join('\n'));
    await expectSippOk(first, await caller('e2e-uac-auth-fail-302.xml', '3003'));
    expect(await dialplanLog(undefined, 'manual ')).toBe(
      `manual {"status":302,"reason":"Moved Temporarily","targets":["sip:+88212345@127.0.0.1:${peer.port}"]}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.received).toEqual([]);
  });
});
