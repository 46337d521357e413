import { afterEach, describe, expect, it } from 'vitest';
import { DOMAIN, PASSWORD, freeUdpPort, registerPhone, useSwitch } from './calls-support.ts';
import { startBaresip, type BaresipClient } from './harness/index.ts';

/**
 * baresip 1.0's `presence` module (Debian baresip-core ships it) as a real subscriber: 1004's
 * contact list holds 1002 with `presence=p2p`, so baresip SUBSCRIBEs (Event: presence, digest on
 * the 407 as for its INVITEs) and shows the contact Online when 1002 registers, Offline when
 * 1002 switches DND on over the API, Online again when it is switched off.
 */

const { sw } = useSwitch(['1002', '1004']);
const phones: BaresipClient[] = [];
afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.stop()));
});

describe('baresip presence subscription', () => {
  it('follows registration and DND of a contact', async () => {
    const user = await sw.running.db.users.add({ email: `blf-baresip${Date.now()}@acme.test`, password: 'a-long-web-password', role: 'admin', tenantId: sw.tenantId });
    const token = (await sw.running.db.tokens.create({ userId: user.id, name: 'test' })).token;
    const account = (await sw.running.db.accounts.findForAuth('1002', DOMAIN))!;
    const { host, port } = sw.running.httpAddress;
    const dnd = async (on: boolean) => {
      const res = await fetch(`http://${host}:${port}/api/v1/accounts/${account.id}/dnd`, {
        method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ dnd: on }),
      });
      expect(res.status).toBe(200);
    };
    const b = await startBaresip({
      user: '1004', password: PASSWORD, domain: DOMAIN, proxy: sw.target,
      appModules: ['contact.so', 'presence.so'], contacts: [`"Desk" <sip:1002@${DOMAIN}>;presence=p2p`],
    });
    phones.push(b);
    await b.waitFor(/registered successfully/, 10_000);
    // Subscribed: the switch holds baresip's presence subscription.
    for (let i = 0; i < 100 && sw.running.sip.subscriptions.size === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(sw.running.sip.subscriptions.size).toBe(1);

    let mark = b.output.length;
    await registerPhone(sw, '1002', await freeUdpPort());
    await b.waitFor(/<sip:1002@acme\.test> changed status from \S*Offline\S* to \S*Online/, 10_000, mark);
    mark = b.output.length;
    await dnd(true);
    await b.waitFor(/<sip:1002@acme\.test> changed status from \S*Online\S* to \S*Offline/, 10_000, mark);
    mark = b.output.length;
    await dnd(false);
    await b.waitFor(/<sip:1002@acme\.test> changed status from \S*Offline\S* to \S*Online/, 10_000, mark);
  });
});
