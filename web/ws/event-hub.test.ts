import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EventBus, type PatchbayEvent } from '../../server/events/index.ts';
import type { WebRole, WebUser } from '../../db/index.ts';
import { createEventHub, type EventHub, type EventHubLimits } from './event-hub.ts';

type Frame = Record<string, unknown> & { type: string; seq?: number };

const USERS: Record<string, WebUser> = {
  admin: user(1, 'admin', 1),
  member: user(2, 'member', 1),
  receptionist: user(3, 'receptionist', 1),
  other: user(4, 'admin', 2),
};

function user(id: number, role: WebRole, tenantId: number | null): WebUser {
  return { id, email: `${role}${id}@x.test`, role, tenantId, disabled: false, createdAt: 0, totpEnabled: false };
}

const party = (account?: string) => ({ uri: `sip:${account ?? 'ext'}@a.test`, ...(account && { account }) });

function reg(user: string, tenantId = 1): PatchbayEvent {
  return {
    type: 'registration.added', tenantId, accountId: Number(user), user, domain: 'a.test', bindingId: `b${user}`,
    contactUri: `sip:${user}@10.0.0.1`, source: { transport: 'udp', address: '10.0.0.1', port: 5060 }, sipCallId: `r${user}`, expiresAt: Date.now() + 60_000,
  };
}

function created(callId: string, caller?: string, callee?: string, tenantId = 1): PatchbayEvent {
  return { type: 'call.created', tenantId, callId, at: Date.now(), direction: 'outbound', caller: party(caller), callee: party(callee) };
}

function log(callId: string, message: string, tenantId = 1): PatchbayEvent {
  return { type: 'dialplan.log', tenantId, callId, at: Date.now(), level: 'info', dialplan: 'p', message };
}

function trace(callId: string, tenantId = 1): PatchbayEvent {
  return {
    type: 'sip.trace', tenantId, at: Date.now(), direction: 'in', transport: 'udp', src: { address: '10.0.0.1', port: 5060 },
    dst: { address: '10.0.0.2', port: 5060 }, text: 'INVITE sip:x SIP/2.0\r\n\r\n', sipCallId: 's', callId, leg: 'a',
  };
}

let server: Server | undefined;
let hub: EventHub | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await hub?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = hub = undefined;
});

async function start(limits: Partial<EventHubLimits> = {}) {
  const bus = new EventBus();
  const watched: number[][] = [];
  hub = createEventHub({
    bus,
    authenticate: async (req) => USERS[new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? ''] ?? null,
    snapshot: {
      calls: (t) => (t === 1 ? [
        { id: 'c1', direction: 'outbound', state: 'ringing', caller: party('1001'), callee: party(), createdAt: 0, history: [] },
        { id: 'c2', direction: 'outbound', state: 'ringing', caller: party('1002'), callee: party(), createdAt: 0, history: [] },
      ] : []),
      registrations: (t) => (t === 1 ? ['1001', '1002'].map((u) => ({ id: `b${u}`, accountId: Number(u), user: u, contact: 'sip:x', sourceAddress: '10.0.0.1:5060', transport: 'udp', userAgent: null, expiresAt: 0 })) : []),
      extensions: (t) => (t === 1 ? [{ accountId: 1001, user: '1001', state: 'idle', callIds: [], dnd: false }, { accountId: 1002, user: '1002', state: 'idle', callIds: [], dnd: false }] : []),
      parking: () => [],
    },
    memberAccounts: async (u) => (u.id === USERS['member']!.id ? ['1001'] : []),
    tenantExists: async (t) => t === 1 || t === 2,
    trace: { setWatched: (t) => watched.push([...t].sort()) },
    limits,
  });
  server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => hub!.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { bus, watched, port };
}

async function client(port: number, query: string): Promise<{ ws: WebSocket; frames: Frame[]; next(n: number): Promise<Frame[]> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/events?${query}`);
  sockets.push(ws);
  ws.on('error', () => {});
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    frames.push(JSON.parse(d.toString()) as Frame);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const next = async (n: number): Promise<Frame[]> => {
    for (let i = 0; i < 200 && frames.length < n; i++) await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 20); });
    return frames.slice(0, n);
  };
  return { ws, frames, next };
}

/** Lets queued frames arrive: a ping round trip is ordered after every frame sent before it. */
async function settle(c: { ws: WebSocket }): Promise<void> {
  await new Promise<void>((r) => {
    c.ws.once('pong', () => r());
    c.ws.ping();
  });
  await new Promise((r) => setTimeout(r, 20));
}

describe('event hub', () => {
  it('a member sees its own accounts only: snapshot, registrations, the calls they are party of (with their logs), never traces', async () => {
    const { bus, port } = await start();
    const m = await client(port, 'token=member&subscribe=*,sip.trace');
    const [snap] = await m.next(1);
    expect(snap).toMatchObject({ type: 'snapshot', tenant: 1 });
    expect((snap!['calls'] as Array<{ id: string }>).map((c) => c.id)).toEqual(['c1']);
    expect((snap!['registrations'] as Array<{ user: string }>).map((r) => r.user)).toEqual(['1001']);
    expect((snap!['extensions'] as Array<{ user: string }>).map((r) => r.user)).toEqual(['1001']);
    bus.emit(reg('1002'));
    bus.emit(reg('1001'));
    bus.emit(created('mine', '1001'));
    bus.emit(created('theirs', '1002'));
    bus.emit(log('theirs', 'not for you'));
    bus.emit(log('mine', 'for you'));
    bus.emit(trace('mine'));
    bus.emit(reg('1001', 2));
    await settle(m);
    expect(m.frames.slice(1).map((f) => `${f.type}:${String(f['user'] ?? f['callId'])}`)).toEqual([
      'registration.added:1001', 'call.created:mine', 'dialplan.log:mine',
    ]);
  });

  it('a member who left a call (transferred it away) gets the call.party.left and none of its later events, nor the call in a new snapshot', async () => {
    const { bus, port } = await start();
    const m = await client(port, 'token=member');
    await m.next(1);
    const joined = (callId: string, account: string, role: 'caller' | 'callee'): PatchbayEvent =>
      ({ type: 'call.party.joined', tenantId: 1, callId, at: Date.now(), accountId: Number(account), account, role });
    const left = (callId: string, account: string, role: 'caller' | 'callee'): PatchbayEvent =>
      ({ type: 'call.party.left', tenantId: 1, callId, at: Date.now(), accountId: Number(account), account, role });
    // moved: 1001 called 1004 and transferred the call away; 1004 talks on to someone else.
    bus.emit(created('moved', '1001', '1004'));
    bus.emit(joined('moved', '1001', 'caller'));
    bus.emit(joined('moved', '1004', 'callee'));
    bus.emit(log('moved', 'before'));
    bus.emit(left('moved', '1001', 'caller'));
    bus.emit(log('moved', 'after you left'));
    bus.emit({ type: 'call.ended', tenantId: 1, callId: 'moved', at: Date.now(), direction: 'outbound', caller: party('1001'), callee: party('1004'), hungUpBy: 'callee', status: 200, reason: 'bye' } as PatchbayEvent);
    // both: 1001 is a party twice (both sides); leaving one of them keeps it in the call.
    bus.emit(created('both', '1001', '1001'));
    bus.emit(joined('both', '1001', 'caller'));
    bus.emit(joined('both', '1001', 'callee'));
    bus.emit(left('both', '1001', 'callee'));
    bus.emit(log('both', 'still yours'));
    await settle(m);
    expect(m.frames.slice(1).map((f) => `${f.type}:${String(f['callId'])}${f['message'] ? `:${String(f['message'])}` : ''}`)).toEqual([
      'call.created:moved', 'call.party.joined:moved', 'call.party.joined:moved', 'dialplan.log:moved:before', 'call.party.left:moved',
      'call.created:both', 'call.party.joined:both', 'call.party.joined:both', 'call.party.left:both', 'dialplan.log:both:still yours',
    ]);
    // A live call the member left is not in its next snapshot (the snapshot source still names 1001 c1's caller).
    bus.emit(created('c1', '1001', '1004'));
    bus.emit(joined('c1', '1001', 'caller'));
    bus.emit(joined('c1', '1004', 'callee'));
    bus.emit(left('c1', '1001', 'caller'));
    const again = await client(port, 'token=member');
    const [snap] = await again.next(1);
    expect((snap!['calls'] as Array<{ id: string }>).map((c) => c.id)).toEqual([]);
  });

  it('receptionists get no registrations, logs or traces; an admin filters by account and changes its subscription live', async () => {
    const { bus, port, watched } = await start();
    const r = await client(port, 'token=receptionist&subscribe=*,sip.trace');
    const a = await client(port, 'token=admin');
    await r.next(1);
    await a.next(1);
    expect((r.frames[0]!['registrations'] as unknown[]).length).toBe(0);
    expect(watched).toEqual([]); // neither may or did ask for traces
    a.ws.send(JSON.stringify({ subscribe: ['call.*', 'sip.trace'], accounts: ['1002'] }));
    await a.next(2);
    expect(a.frames[1]).toMatchObject({ type: 'subscribed', accounts: ['1002'] });
    expect(watched).toEqual([[1]]);
    bus.emit(reg('1001'));
    bus.emit(created('x', '1001'));
    bus.emit(created('y', undefined, '1002'));
    bus.emit(log('y', 'hidden from receptionist'));
    bus.emit(trace('y'));
    await settle(a);
    await settle(r);
    expect(r.frames.slice(1).map((f) => f.type)).toEqual(['call.created', 'call.created']);
    expect(a.frames.slice(2).map((f) => `${f.type}:${String(f['callId'])}`)).toEqual(['call.created:y', 'sip.trace:y']);
    a.ws.close();
    for (let i = 0; i < 50 && watched.at(-1)!.length > 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(watched.at(-1)).toEqual([]);
  });

  it('replays only what the client may see, and resyncs when the ring has moved past `since`', async () => {
    const { bus, port } = await start({ ringSize: 4 });
    const a = await client(port, 'token=admin');
    const [snap] = await a.next(1);
    bus.emit(created('one', '1001'));
    bus.emit(created('other-tenant', '1001', undefined, 2));
    bus.emit(created('two', '1002'));
    await settle(a);
    const seqs = a.frames.slice(1).map((f) => f.seq!);
    expect(seqs).toEqual([snap!.seq! + 1, snap!.seq! + 2]); // per-tenant numbering: tenant 2's event takes no number here
    const m = await client(port, `token=member&since=${snap!.seq}`);
    await settle(m);
    expect(m.frames.map((f) => f['callId'])).toEqual(['one']);
    for (let i = 0; i < 4; i++) bus.emit(log('two', `l${i}`));
    const late = await client(port, `token=admin&since=${snap!.seq}`);
    await late.next(2);
    expect(late.frames[0]).toEqual({ type: 'resync' });
    expect(late.frames[1]).toMatchObject({ type: 'snapshot', seq: snap!.seq! + 6 });
  });

  it('refuses bad requests with a status, caps streams per tenant, and drops a client that stops answering pings', async () => {
    const { port } = await start({ pingIntervalMs: 40, maxClientsPerTenant: 2 });
    await expect(client(port, 'token=admin&subscribe=bad!')).rejects.toThrow('HTTP 400');
    await expect(client(port, 'token=other&tenant=1')).rejects.toThrow('HTTP 404');
    await client(port, 'token=admin');
    // A raw client: handshake, then never reads or answers a ping.
    const raw = connect(port, '127.0.0.1');
    raw.write(`GET /api/v1/events?token=admin HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const closed = new Promise<void>((r) => raw.once('close', () => r()));
    raw.on('data', () => {});
    raw.on('error', () => {});
    for (let i = 0; i < 50 && hub!.stats().clients < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await expect(client(port, 'token=admin')).rejects.toThrow('HTTP 429');
    await closed;
    for (let i = 0; i < 50 && hub!.stats().clients > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(hub!.stats().clients).toBe(1);
  });
});
