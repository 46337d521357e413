import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../events/index.ts';
import { parseMessage, type ClientTransactionHandler, type ServerTransaction, type SipRequest, type SipResponse } from '../sip/index.ts';
import type { WatchedDialog } from './dialog-info.ts';
import type { ExtensionView } from './extension-presence.ts';
import { SubscriptionService, type SubscriptionLimits } from './subscription-service.ts';

const SOURCE = { transport: 'udp' as const, address: '192.0.2.10', port: 5062 };

function subscribeText(o: { user?: string; target?: string; event?: string; expires?: string | null; accept?: string; toTag?: string; cseq?: number; callId?: string } = {}): string {
  const lines = [
    `SUBSCRIBE sip:${o.target ?? '1002@a.test'} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-' + Math.random().toString(36).slice(2),
    `From: <sip:${o.user ?? '1004'}@a.test>;tag=sub1`,
    `To: <sip:${o.target ?? '1002@a.test'}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? 'c-' + Math.random().toString(36).slice(2)}`,
    `CSeq: ${o.cseq ?? 1} SUBSCRIBE`,
    'Contact: <sip:1004@192.0.2.10:5062>',
    'Record-Route: <sip:proxy.example;lr>',
    `Event: ${o.event ?? 'dialog;id=7'}`,
    'Max-Forwards: 70',
  ];
  if (o.expires !== null) lines.push(`Expires: ${o.expires ?? '600'}`);
  if (o.accept) lines.push(`Accept: ${o.accept}`);
  return lines.join('\r\n') + '\r\nContent-Length: 0\r\n\r\n';
}

function setup(limits: Partial<SubscriptionLimits> = {}) {
  const bus = new EventBus();
  const sent: Array<{ req: SipRequest; handler: ClientTransactionHandler; target: unknown }> = [];
  const timers: Array<{ fn: () => void; cancelled: boolean }> = [];
  const accounts = new Map([['1002', { id: 2, username: '1002' }], ['1004', { id: 4, username: '1004' }]]);
  const dialogs: WatchedDialog[] = [];
  const lamps = new Map<number, ExtensionView>();
  const stack = {
    sendRequest: (req: SipRequest, opts: { target?: unknown; handler?: ClientTransactionHandler }) => {
      sent.push({ req, handler: opts.handler!, target: opts.target });
      return {} as never;
    },
    localAddressFor: () => ({ host: '198.51.100.1', port: 5060 }),
    wheel: {
      schedule: (_ms: number, fn: () => void) => {
        const t = { fn, cancelled: false };
        timers.push(t);
        return t as never;
      },
      cancel: (t: unknown) => {
        if (t) (t as { cancelled: boolean }).cancelled = true;
      },
    },
  };
  const service = new SubscriptionService({
    stack: stack as never,
    bus,
    logger: pino({ level: 'silent' }),
    authenticate: async (req) => {
      if (!req.headers.get('Proxy-Authorization')) return { ok: false, status: 407, headers: [['Proxy-Authenticate', 'Digest realm="a.test", nonce="n"']] };
      const user = req.from.uri.user!;
      const a = accounts.get(user);
      return a ? { ok: true, tenant: { id: 1, domain: 'a.test' }, account: a } : { ok: false, status: 403 };
    },
    tenantForDomain: async (d) => (d === 'a.test' ? { id: 1, domain: 'a.test' } : d === 'b.test' ? { id: 2, domain: 'b.test' } : undefined),
    findAccount: async (user, domain) => (domain === 'a.test' ? accounts.get(user) : undefined),
    dialogs: () => dialogs,
    limits,
  });
  service.extensions = { get: (_t, id) => lamps.get(id) };
  const send = async (text: string, auth = true): Promise<SipResponse> => {
    const req = parseMessage(Buffer.from(auth ? text.replace('Max-Forwards', 'Proxy-Authorization: Digest x\r\nMax-Forwards') : text)) as SipRequest;
    req.source = { ...SOURCE };
    return new Promise((resolve) => {
      const tx = { request: req, state: 'Trying', respond: (res: SipResponse) => resolve(res) } as unknown as ServerTransaction;
      expect(service.handleRequest(req, tx)).toBe(true);
    });
  };
  const answer = (i: number, status = 200) => {
    const n = sent[i]!;
    n.handler.onFinal?.({ status, reason: status === 200 ? 'OK' : 'Nope' } as SipResponse);
  };
  const tick = () => new Promise((r) => setImmediate(r));
  return { bus, service, sent, timers, accounts, dialogs, lamps, send, answer, tick };
}

const dialog = (state: WatchedDialog['state']): WatchedDialog => ({
  sipCallId: 'b-leg@x', localTag: 'phone', remoteTag: 'switch', direction: 'recipient', state, remote: { uri: 'sip:1001@a.test', displayName: 'A & B' }, since: Date.now(),
});

describe('SubscriptionService', () => {
  it('accepts a dialog SUBSCRIBE, NOTIFYs full state in order with rising versions over the route set, and ends on Expires: 0', async () => {
    const { bus, service, sent, dialogs, send, answer, tick } = setup();
    const ok = await send(subscribeText({ expires: '99999' }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('Expires')).toBe('3600');
    const toTag = ok.to.params['tag']!;
    expect(sent).toHaveLength(1);
    const first = sent[0]!;
    expect(first.target).toEqual(SOURCE);
    expect(first.req.uri.host).toBe('192.0.2.10');
    expect(first.req.headers.get('Route')).toBe('<sip:proxy.example;lr>');
    expect(first.req.headers.get('Event')).toBe('dialog;id=7');
    expect(first.req.headers.get('Subscription-State')).toMatch(/^active;expires=3\d{3}$/);
    expect(first.req.body.toString()).toContain('version="0" state="full" entity="sip:1002@a.test"');

    dialogs.push(dialog('early'));
    bus.emit({ type: 'leg.ringing', tenantId: 1, callId: 'x', legId: 1, target: '1002@local', earlyMedia: false, at: Date.now() });
    bus.emit({ type: 'leg.ringing', tenantId: 2, callId: 'y', legId: 1, target: '1002@local', earlyMedia: false, at: Date.now() });
    await tick();
    expect(sent).toHaveLength(1); // the next NOTIFY waits for the answer to the first
    answer(0);
    expect(sent).toHaveLength(2);
    const early = sent[1]!.req.body.toString();
    expect(early).toContain('version="1"');
    expect(early).toContain('call-id="b-leg@x" local-tag="phone" remote-tag="switch" direction="recipient"');
    expect(early).toContain('<state>early</state>');
    expect(early).toContain('<identity display="A &amp; B">sip:1001@a.test</identity>');
    dialogs.splice(0, 1);
    bus.emit({ type: 'extension.state', tenantId: 1, accountId: 2, user: '1002', state: 'idle', previous: 'ringing', callIds: [], dnd: false, at: Date.now() });
    await tick();
    answer(1);
    expect(sent[2]!.req.body.toString()).toMatch(/version="2"[\s\S]*<state>terminated<\/state>/);
    answer(2);
    // Nothing changed: no NOTIFY.
    bus.emit({ type: 'extension.state', tenantId: 1, accountId: 2, user: '1002', state: 'idle', previous: 'idle', callIds: [], dnd: false, at: Date.now() });
    await tick();
    expect(sent).toHaveLength(3);

    const bye = await send(subscribeText({ toTag, expires: '0', cseq: 2, callId: first.req.callId }), false);
    expect(bye.status).toBe(200);
    expect(sent[3]!.req.headers.get('Subscription-State')).toBe('terminated;reason=timeout');
    expect(service.size).toBe(1);
    answer(3);
    expect(service.size).toBe(0);
    expect((await send(subscribeText({ toTag, cseq: 3, callId: first.req.callId }), false)).status).toBe(481);
  });

  it('refuses what it must: 489 unknown package, 400 bad Expires, 423 too brief, 406 wrong Accept, 407 passed on, 404 alike for another tenant and an unknown user', async () => {
    const { send, service } = setup();
    const bad = await send(subscribeText({ event: 'conference' }));
    expect([bad.status, bad.headers.get('Allow-Events')]).toEqual([489, 'dialog, presence, message-summary']);
    expect((await send(subscribeText({ expires: 'soon' }))).status).toBe(400);
    const brief = await send(subscribeText({ expires: '30' }));
    expect([brief.status, brief.headers.get('Min-Expires')]).toEqual([423, '60']);
    expect((await send(subscribeText({ accept: 'application/pidf+xml' }))).status).toBe(406);
    const challenge = await send(subscribeText(), false);
    expect([challenge.status, challenge.headers.get('Proxy-Authenticate')]).toEqual([407, 'Digest realm="a.test", nonce="n"']);
    const other = await send(subscribeText({ target: '2001@b.test' }));
    const unknown = await send(subscribeText({ target: '9999@a.test' }));
    expect([other.status, other.reason, unknown.status, unknown.reason]).toEqual([404, 'Not Found', 404, 'Not Found']);
    expect(service.size).toBe(0);
  });

  it('bounds subscriptions per account (403) and in total (503 with Retry-After)', async () => {
    const { send } = setup({ perAccount: 2, total: 3 });
    expect((await send(subscribeText())).status).toBe(200);
    expect((await send(subscribeText())).status).toBe(200);
    expect((await send(subscribeText())).status).toBe(403);
    expect((await send(subscribeText({ user: '1002', target: '1004@a.test' }))).status).toBe(200);
    const full = await send(subscribeText({ user: '1002', target: '1004@a.test' }));
    expect([full.status, full.headers.get('Retry-After')]).toEqual([503, '60']);
  });

  it('presence is open when registered and not DND; a refresh re-NOTIFYs; a failed NOTIFY ends the subscription', async () => {
    const { bus, service, sent, lamps, send, answer, tick } = setup();
    const ok = await send(subscribeText({ event: 'presence', accept: 'application/pidf+xml' }));
    expect(ok.status).toBe(200);
    expect(sent[0]!.req.body.toString()).toContain('<basic>closed</basic>');
    answer(0);
    lamps.set(2, { accountId: 2, user: '1002', state: 'idle', callIds: [], dnd: false });
    bus.emit({ type: 'extension.state', tenantId: 1, accountId: 2, user: '1002', state: 'idle', previous: 'offline', callIds: [], dnd: false, at: Date.now() });
    await tick();
    expect(sent[1]!.req.body.toString()).toMatch(/<basic>open<\/basic>[\s\S]*<note>Available<\/note>/);
    expect(sent[1]!.req.headers.get('Content-Type')).toBe('application/pidf+xml');
    answer(1);
    lamps.set(2, { accountId: 2, user: '1002', state: 'dnd', callIds: [], dnd: true });
    bus.emit({ type: 'account.dnd', tenantId: 1, accountId: 2, user: '1002', dnd: true, by: 'x', at: Date.now() });
    await tick();
    expect(sent[2]!.req.body.toString()).toMatch(/<basic>closed<\/basic>[\s\S]*Do not disturb/);
    answer(2);
    const refreshed = await send(subscribeText({ event: 'presence', toTag: ok.to.params['tag'] ?? undefined, cseq: 2, callId: sent[0]!.req.callId, expires: '300' }), false);
    expect([refreshed.status, refreshed.headers.get('Expires')]).toEqual([200, '300']);
    expect(sent).toHaveLength(4);
    answer(3, 481);
    expect(service.size).toBe(0);
  });

  it('ends subscriptions with noresource when the watched account is removed, and with timeout when they expire', async () => {
    const { bus, service, sent, accounts, timers, send, answer, tick } = setup();
    await send(subscribeText({ event: 'message-summary' }));
    expect(sent[0]!.req.body.toString()).toBe('Messages-Waiting: no\r\nMessage-Account: sip:1002@a.test\r\n');
    answer(0);
    await send(subscribeText({ event: 'dialog', user: '1002', target: '1004@a.test' }));
    answer(1);
    accounts.delete('1002');
    bus.emit({ type: 'config.changed', tenantId: 1, kind: 'account', name: '1002' });
    await tick();
    await tick();
    // Both: one watched 1002, the other was held by 1002.
    expect(sent.slice(2).map((n) => n.req.headers.get('Subscription-State'))).toEqual(['terminated;reason=noresource', 'terminated;reason=noresource']);
    answer(2);
    answer(3);
    expect(service.size).toBe(0);
    accounts.set('1002', { id: 2, username: '1002' });
    await send(subscribeText());
    answer(4);
    timers.filter((t) => !t.cancelled).at(-1)!.fn();
    expect(sent[5]!.req.headers.get('Subscription-State')).toBe('terminated;reason=timeout');
  });
});
