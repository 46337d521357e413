import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DOMAIN, addTenant, expectSippOk, freeUdpPort, restApi, useSwitch } from './calls-support.ts';

/**
 * The event stream at /api/v1/events against the real server, with calls placed by sipp (digest
 * caller, answering UAS) over real UDP and the clients on real WebSockets: snapshot then ordered
 * events, `since` resume and resync, slow consumers, tenant isolation and the SIP trace.
 */

const RING = 96;
const BOUND = 256 * 1024;
const { sw, sipp } = useSwitch(['1001', '1002'], { PATCHBAY_SANDBOX_MAX_CONCURRENT: '50', PATCHBAY_SANDBOX_MAX_INBOUND_PER_SOURCE: '50' }, {
  eventHubLimits: { ringSize: RING, maxBufferedBytes: BOUND, socketHighWaterBytes: 64 * 1024 },
});

type Frame = Record<string, unknown> & { type: string; seq?: number };

class StreamClient {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const w of [...this.waiters]) w();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of [...this.waiters]) w();
    });
  }

  static open(query: string, headers: Record<string, string> = {}): Promise<StreamClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${sw.running.httpAddress.port}/api/v1/events?${query}`, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new StreamClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Resolves with the first frame (from index `from`) that matches. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 15_000, from = 0): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.frames.slice(from).find(pred);
        if (hit) {
          this.waiters.delete(onChange);
          clearTimeout(timer);
          resolve(hit);
          return true;
        }
        if (this.closeCode !== undefined) {
          this.waiters.delete(onChange);
          clearTimeout(timer);
          reject(new Error(`closed (${this.closeCode}) before the frame; saw ${this.frames.map((f) => f.type).join(', ')}`));
          return true;
        }
        return false;
      };
      const onChange = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(onChange);
        reject(new Error(`frame not seen in ${timeoutMs} ms; saw ${this.frames.map((f) => f.type).join(', ')}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(onChange);
    });
  }

  waitClosed(timeoutMs = 15_000): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.closeCode !== undefined) return resolve(this.closeCode);
      const timer = setTimeout(() => reject(new Error('not closed')), timeoutMs);
      this.ws.once('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  events(): Frame[] {
    return this.frames.filter((f) => typeof f.seq === 'number' && f.type !== 'snapshot');
  }

  close(): void {
    this.ws.close();
  }
}

const rest = restApi(sw);

/** A token of a new web user with `role` (a fresh address each time). */
function tokenFor(role: 'admin' | 'receptionist' | 'operator', tenantId: number | null): Promise<string> {
  return rest.tokenFor(`${role}-${tenantId ?? 'op'}-${Math.random().toString(36).slice(2)}@x.test`, tenantId, role);
}

/** A second tenant with account 2001 whose outgoing dialplan is `source`. */
async function secondTenant(source: string): Promise<{ tenantId: number; domain: string }> {
  const domain = `beta${Math.random().toString(36).slice(2, 8)}.test`;
  return { tenantId: await addTenant(sw, domain, ['2001'], { user: '2001', source }), domain };
}

/** One answered call 1001 → sipp UAS through the outgoing dialplan; resolves with the Patchbay call id. */
async function answeredCall(): Promise<string> {
  const callee = await sipp('call-uas-answer.xml');
  await sw.useOutDialplan('1001', `sys.Log("to uas"); await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
  const before = sw.events.length;
  await expectSippOk(callee, await sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1001' }));
  const ended = await sw.waitForEvent((e) => e.type === 'call.ended' && e.tenantId === sw.tenantId && sw.events.indexOf(e) >= before);
  return String(ended['callId']);
}

const LOUD_PLAN = 'for (let i = 0; i < 16; i++) sys.Log(String(i).padEnd(4000, "x"));';

/** `calls` calls from 1001 that run a dialplan logging ~64 KiB and end with 480. */
async function loudCalls(calls: number): Promise<void> {
  await sw.useOutDialplan('1001', LOUD_PLAN);
  await expectSippOk(await sipp('e2e-uac-auth-fail-480.xml', { remote: sw.target, service: '3000', user: '1001', calls, rate: 50 }));
}

/** Frames already sent have arrived (loopback) after a short pause; used before asserting that something did NOT arrive. */
function settleFrames(): Promise<void> {
  return new Promise((r) => setTimeout(r, 150));
}

function seqsIncrease(frames: Frame[]): boolean {
  return frames.every((f, i) => i === 0 || f.seq! > frames[i - 1]!.seq!);
}

describe('event stream over WebSocket', () => {
  it('refuses unauthenticated, foreign-origin and other-tenant requests with the HTTP status', async () => {
    await expect(StreamClient.open('')).rejects.toThrow('HTTP 401');
    await expect(StreamClient.open('token=nope')).rejects.toThrow('HTTP 401');
    const admin = await tokenFor('admin', sw.tenantId);
    await expect(StreamClient.open(`token=${admin}&tenant=${sw.tenantId + 1000}`)).rejects.toThrow('HTTP 404');
    await expect(StreamClient.open(`token=${admin}`, { Origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    await expect(StreamClient.open(`token=${admin}&since=abc`)).rejects.toThrow('HTTP 400');
    const operator = await tokenFor('operator', null);
    await expect(StreamClient.open(`token=${operator}`)).rejects.toThrow('HTTP 400');
    await expect(StreamClient.open(`token=${operator}&tenant=999999`)).rejects.toThrow('HTTP 404');
    const op = await StreamClient.open(`token=${operator}&tenant=${sw.tenantId}`);
    expect((await op.waitFor((f) => f.type === 'snapshot')).tenant).toBe(sw.tenantId);
    op.close();
    const bearer = await StreamClient.open('', { Authorization: `Bearer ${admin}` });
    await bearer.waitFor((f) => f.type === 'snapshot');
    bearer.ws.send('{"subscribe": ["bad type!"]}');
    expect((await bearer.waitFor((f) => f.type === 'error')).field).toBe('subscribe.0');
    bearer.close();
  });

  it('sends a snapshot, then the call’s events in order; a receptionist gets calls and lamps but no dialplan logs', async () => {
    const admin = await StreamClient.open(`token=${await tokenFor('admin', sw.tenantId)}`);
    const reception = await StreamClient.open(`token=${await tokenFor('receptionist', sw.tenantId)}`);
    const snap = await admin.waitFor((f) => f.type === 'snapshot');
    expect(snap).toMatchObject({ calls: [], registrations: [], parking: [] });
    const callId = await answeredCall();
    await admin.waitFor((f) => f.type === 'call.ended' && f['callId'] === callId);
    await reception.waitFor((f) => f.type === 'call.ended' && f['callId'] === callId);
    expect(admin.frames[0]!.type).toBe('snapshot');
    const events = admin.events();
    expect(seqsIncrease(events)).toBe(true);
    expect(events[0]!.seq).toBe((snap.seq as number) + 1);
    for (const e of events) expect(e).toMatchObject({ tenant: sw.tenantId, time: expect.any(Number) });
    const ofCall = events.filter((e) => e['callId'] === callId).map((e) => e.type);
    expect(ofCall[0]).toBe('call.created');
    expect(ofCall.at(-1)).toBe('call.ended');
    expect(ofCall).toEqual(expect.arrayContaining(['call.party.joined', 'dialplan.log', 'leg.ringing', 'call.answered']));
    expect(ofCall.indexOf('leg.ringing')).toBeLessThan(ofCall.indexOf('call.answered'));
    const lamps = events.filter((e) => e.type === 'extension.state' && e['user'] === '1001').map((e) => e['state']);
    expect(lamps).toEqual(['busy', 'offline']);
    const seen = reception.events().map((e) => e.type);
    expect(seen).toEqual(expect.arrayContaining(['call.created', 'call.answered', 'call.ended', 'extension.state']));
    expect(seen.some((t) => t === 'dialplan.log' || t.startsWith('registration.') || t === 'sip.trace')).toBe(false);
    admin.close();
    reception.close();
  });

  it('resumes with since: exactly the events a client missed; a too-old since gets resync and a fresh snapshot', async () => {
    const token = await tokenFor('admin', sw.tenantId);
    const watcher = await StreamClient.open(`token=${token}`);
    const first = await StreamClient.open(`token=${token}`);
    await first.waitFor((f) => f.type === 'snapshot');
    await watcher.waitFor((f) => f.type === 'snapshot');
    const firstCall = await answeredCall();
    await first.waitFor((f) => f.type === 'call.ended' && f['callId'] === firstCall);
    const last = first.events().at(-1)!.seq!;
    first.close();
    await first.waitClosed();

    const missedCall = await answeredCall();
    await watcher.waitFor((f) => f.type === 'call.ended' && f['callId'] === missedCall);
    const resumed = await StreamClient.open(`token=${token}&since=${last}`);
    await resumed.waitFor((f) => f.type === 'call.ended' && f['callId'] === missedCall);
    await settleFrames(); // anything extra would have arrived by now
    const missed = watcher.events().filter((e) => e.seq! > last);
    expect(resumed.frames.some((f) => f.type === 'snapshot' || f.type === 'resync')).toBe(false);
    expect(resumed.frames).toEqual(missed);
    expect(missed.some((e) => e['callId'] === missedCall)).toBe(true);
    resumed.close();

    // Push the ring past `last` (each loud call is ~20 events), then resume from it.
    await loudCalls(Math.ceil(RING / 10));
    const lateSeq = watcher.events().at(-1)!.seq!;
    const stale = await StreamClient.open(`token=${token}&since=${last}`);
    await stale.waitFor((f) => f.type === 'snapshot');
    expect(stale.frames[0]).toEqual({ type: 'resync' });
    expect(stale.frames[1]!.type).toBe('snapshot');
    expect(stale.frames[1]!.seq).toBeGreaterThanOrEqual(lateSeq);
    stale.close();
    // A since from the future (a previous process) is not ours either.
    const future = await StreamClient.open(`token=${token}&since=${lateSeq + 1_000_000}`);
    await future.waitFor((f) => f.type === 'snapshot');
    expect(future.frames[0]).toEqual({ type: 'resync' });
    future.close();
    watcher.close();
  });

  it('resyncs a client that stops reading, closes one that never catches up with 1013, while another keeps receiving and calls keep connecting', async () => {
    const token = await tokenFor('admin', sw.tenantId);
    const recovering = await StreamClient.open(`token=${token}&subscribe=call.*,dialplan.log`);
    const steady = await StreamClient.open(`token=${await tokenFor('receptionist', sw.tenantId)}&subscribe=call.*`);
    await Promise.all([recovering, steady].map((c) => c.waitFor((f) => f.type === 'snapshot')));
    const hub = sw.running.eventHub;
    const base = hub.stats();
    // One slow client at a time, one call per step (a call logs far less than BOUND, and a turn's frames leave
    // in one write), so no step can overrun a client twice.
    recovering.ws.pause();
    for (let i = 0; i < 120 && hub.stats().resyncs === base.resyncs; i++) await loudCalls(1);
    expect(hub.stats()).toMatchObject({ resyncs: base.resyncs + 1, slowCloses: base.slowCloses });
    recovering.ws.resume();

    const stuck = await StreamClient.open(`token=${token}&subscribe=call.*,dialplan.log`);
    await stuck.waitFor((f) => f.type === 'snapshot');
    stuck.ws.pause();
    for (let i = 0; i < 120 && hub.stats().slowCloses === base.slowCloses; i++) await loudCalls(1);
    expect(hub.stats()).toMatchObject({ resyncs: base.resyncs + 2, slowCloses: base.slowCloses + 1 });

    // The switch still connects calls, and the reading clients see them.
    const callId = await answeredCall();
    await steady.waitFor((f) => f.type === 'call.ended' && f['callId'] === callId);
    await recovering.waitFor((f) => f.type === 'call.ended' && f['callId'] === callId, 30_000);
    const r = recovering.frames.findIndex((f) => f.type === 'resync');
    expect(r).toBeGreaterThan(0);
    expect(recovering.frames[r + 1]!.type).toBe('snapshot');
    const after = recovering.frames.slice(r + 1).filter((f) => typeof f.seq === 'number');
    expect(seqsIncrease(after)).toBe(true);
    expect(recovering.closeCode).toBeUndefined();
    expect(seqsIncrease(steady.events())).toBe(true);
    expect(steady.frames.some((f) => f.type === 'resync')).toBe(false);

    stuck.ws.resume();
    expect(await stuck.waitClosed(30_000)).toBe(1013);
    expect(seqsIncrease(stuck.events())).toBe(true);
    recovering.close();
    steady.close();
  }, 120_000);

  it('derives lamps from a real registration and call: idle → ringing → busy → idle, seen by the tenant’s admin and a watching operator', async () => {
    const admin = await StreamClient.open(`token=${await tokenFor('admin', sw.tenantId)}&subscribe=extension.state,registration.*`);
    const operator = await StreamClient.open(`token=${await tokenFor('operator', null)}&tenant=${sw.tenantId}&subscribe=extension.state`);
    await Promise.all([admin, operator].map((c) => c.waitFor((f) => f.type === 'snapshot')));
    const port = await freeUdpPort();
    await expectSippOk(await sipp('register-digest.xml', { remote: sw.target, user: '1002', port }));
    await admin.waitFor((f) => f.type === 'registration.added' && f['user'] === '1002');
    const phone = await sipp('call-uas-answer.xml', { port });
    await expectSippOk(phone, await sipp('e2e-uac-inbound-answer-bye.xml', { remote: sw.target, service: '1002' }));
    await admin.waitFor((f) => f.type === 'extension.state' && f['user'] === '1002' && f['state'] === 'idle' && f['previous'] === 'busy');
    await operator.waitFor((f) => f.type === 'extension.state' && f['user'] === '1002' && f['previous'] === 'busy');
    const lamps = (c: StreamClient) => c.frames.filter((f) => f.type === 'extension.state' && f['user'] === '1002').map((f) => f['state']);
    expect(lamps(admin)).toEqual(['idle', 'ringing', 'busy', 'idle']);
    expect(lamps(operator)).toEqual(lamps(admin));
    const snapshot = await StreamClient.open(`token=${await tokenFor('admin', sw.tenantId)}`);
    const snap = await snapshot.waitFor((f) => f.type === 'snapshot');
    expect(snap['extensions']).toEqual(expect.arrayContaining([expect.objectContaining({ user: '1002', state: 'idle', callIds: [] })]));
    expect(snap['registrations']).toEqual(expect.arrayContaining([expect.objectContaining({ user: '1002', sourceAddress: `127.0.0.1:${port}`, transport: 'udp' })]));
    for (const c of [admin, operator, snapshot]) c.close();
  });

  it('two tenants’ clients during one call see only their own; sip.trace carries both legs and stops when nobody watches', async () => {
    const beta = await secondTenant('sys.Log("beta"); await sys.Respond(486, "Busy Here");');
    const alpha = await StreamClient.open(`token=${await tokenFor('admin', sw.tenantId)}&subscribe=call.*,sip.trace`);
    const other = await StreamClient.open(`token=${await tokenFor('admin', beta.tenantId)}&subscribe=call.*,sip.trace,dialplan.log`);
    const reception = await StreamClient.open(`token=${await tokenFor('receptionist', sw.tenantId)}&subscribe=call.*,sip.trace`);
    await Promise.all([alpha, other, reception].map((c) => c.waitFor((f) => f.type === 'snapshot')));
    expect(sw.running.eventHub.isTraced(sw.tenantId)).toBe(true);
    await expectSippOk(await sipp('register-digest.xml', { remote: sw.target, user: '1002' }));
    const betaCall = sipp('e2e-uac-auth-fail-486.xml', { remote: sw.target, service: '4000', user: '2001', domain: beta.domain });
    const callId = await answeredCall();
    await expectSippOk(await betaCall);
    await alpha.waitFor((f) => f.type === 'call.ended' && f['callId'] === callId);
    const betaEnded = await other.waitFor((f) => f.type === 'call.ended');

    for (const f of alpha.frames) expect(f.tenant).toBe(sw.tenantId);
    for (const f of other.frames) expect(f.tenant).toBe(beta.tenantId);
    expect(alpha.frames.some((f) => f['callId'] === betaEnded['callId'])).toBe(false);
    expect(other.frames.some((f) => f['callId'] === callId)).toBe(false);
    expect(other.frames.some((f) => f.type === 'dialplan.log' && f['message'] === 'beta')).toBe(true);

    const trace = alpha.frames.filter((f) => f.type === 'sip.trace' && f['callId'] === callId);
    const line = (f: Frame) => String(f['text']).split('\r\n')[0]!;
    const a = trace.filter((f) => f['leg'] === 'a');
    const b = trace.filter((f) => f['leg'] === 'b');
    expect(a.some((f) => f['direction'] === 'in' && line(f).startsWith('INVITE sip:2000@'))).toBe(true);
    expect(a.some((f) => f['direction'] === 'out' && line(f) === 'SIP/2.0 200 OK')).toBe(true);
    expect(a.some((f) => f['direction'] === 'out' && line(f).startsWith('SIP/2.0 407'))).toBe(true);
    expect(b.some((f) => f['direction'] === 'out' && line(f).startsWith('INVITE sip:uas@127.0.0.1'))).toBe(true);
    expect(b.some((f) => f['direction'] === 'in' && line(f) === 'SIP/2.0 200 OK')).toBe(true);
    for (const f of trace) {
      expect(f).toMatchObject({ transport: 'udp', src: { address: expect.any(String), port: expect.any(Number) }, dst: { port: expect.any(Number) } });
      expect(String(f['text'])).toContain(`Call-ID: ${String(f['sipCallId'])}`);
    }
    const betaTrace = other.frames.filter((f) => f.type === 'sip.trace');
    expect(betaTrace.length).toBeGreaterThan(0);
    expect(betaTrace.every((f) => f['callId'] === betaEnded['callId'])).toBe(true);
    expect(reception.frames.some((f) => f.type === 'sip.trace')).toBe(false);
    // The registration's REGISTER, its challenge and its 200 belong to the tenant too (no call).
    const register = alpha.frames.filter((f) => f.type === 'sip.trace' && String(f['text']).includes('CSeq: 2 REGISTER'));
    expect(register.map((f) => `${String(f['direction'])} ${line(f)}`)).toEqual([`in REGISTER sip:${DOMAIN} SIP/2.0`, 'out SIP/2.0 200 OK']);
    expect(alpha.frames.some((f) => f.type === 'sip.trace' && line(f).startsWith('SIP/2.0 401'))).toBe(true);
    expect(register.every((f) => f['callId'] === undefined)).toBe(true);
    expect(other.frames.some((f) => String(f['text']).includes('REGISTER'))).toBe(false);

    alpha.close();
    other.close();
    await Promise.all([alpha.waitClosed(), other.waitClosed()]);
    for (let i = 0; i < 50 && sw.running.sip.stack.trafficObserver !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sw.running.sip.stack.trafficObserver).toBeUndefined();
    reception.close();
  });

  it('a caller that reuses another tenant’s Call-ID gets neither call’s trace, and the other tenant loses nothing to it', async () => {
    const beta = await secondTenant('await sys.Respond(486, "Busy Here");');
    const alpha = await StreamClient.open(`token=${await tokenFor('admin', sw.tenantId)}&subscribe=call.*,sip.trace`);
    const attacker = await StreamClient.open(`token=${await tokenFor('admin', beta.tenantId)}&subscribe=call.*,sip.trace`);
    await Promise.all([alpha, attacker].map((c) => c.waitFor((f) => f.type === 'snapshot')));
    const sipCallId = `collide-${Math.random().toString(36).slice(2)}@127.0.0.1`;
    const callee = await sipp('call-uas-answer-late.xml');
    await sw.useOutDialplan('1001', `await sys.Dial("sip:uas@127.0.0.1:${callee.port}");`);
    const victim = sipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2000', user: '1001', callIdFormat: sipCallId });
    const ringing = await alpha.waitFor((f) => f.type === 'call.created'); // its Call-ID is claimed before call.created
    await expectSippOk(await sipp('e2e-uac-auth-fail-486.xml', { remote: sw.target, service: '4000', user: '2001', domain: beta.domain, callIdFormat: sipCallId }));
    await expectSippOk(callee, await victim);
    await alpha.waitFor((f) => f.type === 'call.ended' && f['callId'] === ringing['callId']);
    await attacker.waitFor((f) => f.type === 'call.ended');
    await settleFrames();
    expect(attacker.frames.some((f) => f.type === 'sip.trace' && f['sipCallId'] === sipCallId)).toBe(false);
    expect(attacker.frames.some((f) => String(f['text'] ?? '').includes('1001@'))).toBe(false);
    expect(alpha.frames.some((f) => String(f['text'] ?? '').includes(`2001@${beta.domain}`))).toBe(false);
    // Before the collision the victim's own trace was there.
    expect(alpha.frames.some((f) => f.type === 'sip.trace' && f['sipCallId'] === sipCallId && f['leg'] === 'a')).toBe(true);
    alpha.close();
    attacker.close();
  });
});
