import { describe, expect, it } from 'vitest';
import { DOMAIN, expectSippOk, freeUdpPort, registerPhone, useSwitch } from './calls-support.ts';

/**
 * BLF and presence on the phones, through the real switch with sipp: 1004 subscribes (digest,
 * as INVITEs are challenged) to `dialog` of 1002 and sees early → confirmed → terminated for a
 * call to it, each NOTIFY full state with the next version; it picks up a ringing call with an
 * INVITE/Replaces built from the early NOTIFY's call-id/tags; `presence` follows register,
 * unregister and DND; `message-summary` gets a valid empty summary; another tenant's user (and
 * an unknown one) is 404, an unknown package 489.
 */

const OTHER = 'blf-other.test';
const { sw, sipp } = useSwitch(['1001', '1002', '1003', '1004', '1005']);

async function otherTenant(): Promise<void> {
  const db = sw.running.db;
  if (await db.tenants.findByDomain(OTHER)) return;
  await db.tenants.add({ domain: OTHER });
  await db.accounts.add({ username: '1004', domain: OTHER, password: 's3cret-other' });
  sw.running.sip.directory.invalidate();
}

async function receptionistToken(): Promise<string> {
  const user = await sw.running.db.users.add({ email: `blf${Date.now()}@acme.test`, password: 'a-long-web-password', role: 'receptionist', tenantId: sw.tenantId });
  return (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
}

describe('BLF (dialog), presence and message-summary subscriptions', () => {
  it('a call to the watched account gives NOTIFYs early, confirmed, terminated with the phone\'s own dialog ids', async () => {
    const phonePort = await freeUdpPort();
    await registerPhone(sw, '1002', phonePort);
    const phone = await sipp('call-uas-answer-late.xml', { port: phonePort });
    const watcher = await sipp('blf-uac-auth-dialog-early-confirmed-terminated.xml', { remote: sw.target, service: '1002', user: '1004' });
    await watcher.waitForLog(/subscribed/);
    await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const caller = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1002', user: '1001' });
    const [, , seen] = await expectSippOk(caller, phone, watcher);
    const [, sipCallId, localTag, remoteTag] = /early (\S+) (\S+) (\S+)/.exec(seen!.logs)!;
    // The phone's own leg: its To tag is local, the switch's From tag remote.
    expect(localTag).toMatch(/SIPpTag01/);
    expect(remoteTag).not.toMatch(/SIPpTag/);
    expect(sipCallId).not.toBe('');
    expect(sw.running.sip.subscriptions.size).toBe(0);
  });

  it('watching the caller: its own dialog is listed as initiator, early → confirmed → terminated', async () => {
    const phonePort = await freeUdpPort();
    await registerPhone(sw, '1005', phonePort);
    const phone = await sipp('call-uas-answer-late.xml', { port: phonePort });
    const watcher = await sipp('blf-uac-auth-dialog-initiator.xml', { remote: sw.target, service: '1001', user: '1004' });
    await watcher.waitForLog(/subscribed/);
    await sw.useOutDialplan('1001', 'await sys.Dial("1005@local");');
    const caller = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1005', user: '1001' });
    const [seen, ,] = await Promise.all([watcher.done, caller.done, phone.done]);
    expect(seen.code, seen.output).toBe(0);
    // The caller's own tags: its From tag is local.
    expect(/early \S+ (\S+) \S+/.exec(seen.logs)?.[1]).toMatch(/SIPpTag00/);
  });

  it('a phone picks up the ringing call with an INVITE/Replaces built from the dialog-info', async () => {
    const phonePort = await freeUdpPort();
    await registerPhone(sw, '1002', phonePort);
    const phone = await sipp('call-uas-ring-cancel.xml', { port: phonePort });
    const watcher = await sipp('blf-uac-auth-dialog-early-terminated.xml', { remote: sw.target, service: '1002', user: '1004' });
    await watcher.waitForLog(/subscribed/);
    await sw.useOutDialplan('1001', 'await sys.Dial("1002@local");');
    const before = sw.events.length;
    const caller = await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '1002', user: '1001' });
    const [, rcid, ltag, rtag] = (await watcher.waitForLog(/early (\S+) (\S+) (\S+)/))!;
    // Replaces (RFC 3891) as the switch holding the other end sees it: to-tag = the phone's tag.
    const picker = await sipp('replaces-uac-auth-invite-replaces-wait-bye.xml', { remote: sw.target, service: '1002', user: '1004', keys: { rcid: rcid!, rtt: ltag!, rft: rtag! } });
    await expectSippOk(phone, caller, picker, watcher);
    const ev = await sw.waitForEvent((e) => e.type === 'call.picked-up' && sw.events.indexOf(e) >= before);
    expect(ev['by']).toBe(`sip:1004@${DOMAIN}`);
  });

  it('an INVITE/Replaces naming no dialog of the tenant is 481; the ringing call goes on', async () => {
    await expectSippOk(await sipp('replaces-uac-auth-invite-replaces-481.xml', { remote: sw.target, service: '1002', user: '1004', keys: { rcid: 'nope@x', rtt: 'a', rft: 'b' } }));
  });

  it('presence is open while registered and not DND, closed when unregistered or DND', async () => {
    const token = await receptionistToken();
    const account = (await sw.running.db.accounts.findForAuth('1003', DOMAIN))!;
    const { host, port } = sw.running.httpAddress;
    const dnd = async (on: boolean) => {
      const res = await fetch(`http://${host}:${port}/api/v1/accounts/${account.id}/dnd`, {
        method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ dnd: on }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
    };
    const watcher = await sipp('presence-uac-auth-open-closed.xml', { remote: sw.target, service: '1003', user: '1004' });
    await watcher.waitForLog(/presence 0 closed/);
    // Registers (open), unregisters from the same contact (closed), registers again (open).
    const phonePort = await freeUdpPort();
    await registerPhone(sw, '1003', phonePort);
    await watcher.waitForLog(/presence 1 open/);
    await registerPhone(sw, '1003', phonePort, { scenario: 'unregister-digest.xml' });
    await watcher.waitForLog(/presence 2 closed/);
    await registerPhone(sw, '1003', phonePort);
    await watcher.waitForLog(/presence 3 open/);
    await dnd(true);
    await watcher.waitForLog(/presence 4 closed/);
    await dnd(false);
    await expectSippOk(watcher);
  });

  it('message-summary gets a valid empty summary (no voicemail), and ends on unsubscribe', async () => {
    await expectSippOk(await sipp('mwi-uac-auth-empty-summary.xml', { remote: sw.target, service: '1004', user: '1004' }));
  });

  it('removing the watched account over the API ends its subscriptions (terminated;reason=noresource)', async () => {
    const gone = await sw.running.db.accounts.add({ username: '1009', domain: DOMAIN, password: 's3cret-long-1009' });
    sw.running.sip.directory.invalidate();
    const admin = await sw.running.db.users.add({ email: `blf-admin${Date.now()}@acme.test`, password: 'a-long-web-password', role: 'admin', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: admin.id, name: 'test' })).token;
    const watcher = await sipp('blf-uac-auth-dialog-noresource.xml', { remote: sw.target, service: '1009', user: '1004' });
    await watcher.waitForLog(/subscribed/);
    const { host, port } = sw.running.httpAddress;
    const res = await fetch(`http://${host}:${port}/api/v1/accounts/${gone.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(204);
    await expectSippOk(watcher);
  });

  it('another tenant\'s user and an unknown user get the same 404; an unknown package 489', async () => {
    await otherTenant();
    const live = sw.running.sip.subscriptions.size;
    const refused = (target: string, user: string, event: string) =>
      sipp('subscribe-uac-auth-refused-404.xml', { remote: sw.target, service: user, user: '1004', domain: OTHER, password: 's3cret-other', authUri: `${user}@${target}`, keys: { target, event } });
    await expectSippOk(
      await refused(DOMAIN, '1002', 'dialog'),
      await refused(DOMAIN, '1002', 'presence'),
      await refused(OTHER, '1002', 'dialog'),
    );
    await expectSippOk(await sipp('subscribe-uac-bad-event-489.xml', { remote: sw.target, service: '1002', user: '1004' }));
    // A wrong password is refused as for an INVITE (and counts in the same brute-force guard).
    await expectSippOk(await sipp('subscribe-uac-auth-wrong-password-403.xml', { remote: sw.target, service: '1002', user: '1004', password: 'not-the-password', keys: { target: DOMAIN, event: 'dialog' } }));
    expect(sw.running.sip.subscriptions.size).toBe(live);
  });
});
