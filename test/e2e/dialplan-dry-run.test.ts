import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN } from './calls-support.ts';
import { registerListeningPhone, type ListeningPhone } from './ui-support/udp-phone.ts';
import { startUiSwitch, type UiSwitch } from './ui-support/ui-switch.ts';

/**
 * The dialplan dry run (server/calls/dry-run) against the real switch: the real sandbox runs the
 * dialplan, its Dials play simulated legs, and nothing goes out on SIP.
 */

const TWO_GROUPS = `
sys.Log(\`routing \${req.uri.user}\`);
const r = await sys.Dial('1002@local|1003@local');
sys.Log(\`dial ended \${r.status} \${r.outcome}\`);
`;

interface Session { cookie: string; csrf: string }

let ui: UiSwitch;
let admin: Session;
let member: Session;
let receptionist: Session;
let otherAdmin: Session;
/** Where 1002 is registered: an INVITE to 1002 would arrive here. */
let phone: ListeningPhone;

async function login(email: string, password: string): Promise<Session> {
  const res = await fetch(`${ui.origin}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  const body = (await res.json()) as { csrfToken: string };
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status}`);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: body.csrfToken };
}

async function dryRun(s: Session, name: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${ui.origin}/api/v1/dialplans/${name}/dry-run`, {
    method: 'POST', headers: { 'content-type': 'application/json', cookie: s.cookie, 'x-csrf-token': s.csrf }, body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const callFrom1001 = { direction: 'out', from: { account: '1001' }, to: '1002' };

beforeAll(async () => {
  ui = await startUiSwitch(['1001', '1002', '1003']);
  const db = ui.sw.running.db;
  await ui.addUser('admin@acme.test', 'admin-long-password', 'admin');
  const memberId = await ui.addUser('member@acme.test', 'member-long-password', 'member');
  await ui.addUser('desk@acme.test', 'desk-long-password', 'receptionist');
  await ui.addUser('admin@other.test', 'other-long-password', 'admin', ui.otherTenantId);
  await ui.seedDialplan('two-groups', TWO_GROUPS);
  await ui.seedDialplan('loop', 'sys.Log("spinning"); while (true) {}');
  await ui.seedDialplan('kv', 'await sys.DBWrite("last", req.uri.user); sys.Log(String(await sys.DBRead("last")));');
  await ui.seedDialplan('webget', 'const t = await sys.WebGet("https://route.example.com/next?n=" + req.uri.user); await sys.Dial(`${t}@local`);');
  await ui.seedDialplan('member-plan', 'await sys.Dial("1002@local")');
  await db.accounts.update('1001', DOMAIN, { ownerUserId: memberId, outDialplan: 'member-plan' });
  ui.sw.running.sip.directory.invalidate();
  await ui.seedDialplan('two-groups', TWO_GROUPS, { tenantId: ui.otherTenantId });
  admin = await login('admin@acme.test', 'admin-long-password');
  member = await login('member@acme.test', 'member-long-password');
  receptionist = await login('desk@acme.test', 'desk-long-password');
  otherAdmin = await login('admin@other.test', 'other-long-password');
  phone = await registerListeningPhone('1002', Number(ui.sw.target.split(':')[1]));
}, 60_000);

afterAll(async () => {
  phone?.close();
  await ui?.close();
});

describe('POST /dialplans/:name/dry-run', () => {
  it('plays two sequential groups, busy then answer, with no SIP message leaving the switch', async () => {
    const stack = ui.sw.running.sip.stack;
    const sent: string[] = [];
    const previous = stack.trafficObserver;
    stack.trafficObserver = (direction, data) => {
      if (direction === 'out') sent.push(data.toString('latin1'));
    };
    try {
      const { status, body } = await dryRun(admin, 'two-groups', {
        call: callFrom1001,
        outcomes: [{ pattern: '1002@local', action: 'busy' }, { pattern: '100*@local', action: 'answer', after: 3 }],
      });
      expect(status).toBe(200);
      expect(body.response).toEqual({ status: 200, reason: 'OK', by: 'answer' });
      const kinds = body.timeline.map((e: { kind: string }) => e.kind);
      expect(kinds).toEqual(['log', 'sys', 'dial', 'log']);
      expect(body.timeline[0].message).toBe('routing 1002');
      expect(body.timeline[1]).toMatchObject({ name: 'Dial', args: ['1002@local|1003@local'], result: { answered: true, status: 200 } });
      const dial = body.timeline[2];
      expect(dial.dialString).toBe('1002@local|1003@local');
      expect(dial.legs).toMatchObject([
        { id: 1, group: 0, destination: '1002@local', rule: '1002@local', state: 'failed', status: 486 },
        { id: 2, group: 1, destination: '1003@local', rule: '100*@local', state: 'answered', status: 200 },
      ]);
      expect(dial.winner).toBe(2);
      expect(dial.legs[1].answeredAt - dial.legs[1].startedAt).toBe(3000);
      expect(body.timeline[3].message).toBe('dial ended 200 answered');
      expect(body.usage.cpuMs).toBeGreaterThan(0);
      expect(body.usage.wallMs).toBeGreaterThan(0);
      expect(body.limit).toBeUndefined();
      // Let any late datagram arrive before looking.
      await new Promise((r) => setTimeout(r, 300));
      expect(sent).toEqual([]);
      expect(phone.received).toEqual([]);
    } finally {
      stack.trafficObserver = previous;
    }
    // No CDR, no call left behind.
    expect(await ui.sw.running.db.cdrs.list({ tenantId: ui.sw.tenantId })).toEqual([]);
  });

  it('the observer used above does see what the switch sends (an OPTIONS answer)', async () => {
    const stack = ui.sw.running.sip.stack;
    const sent: string[] = [];
    stack.trafficObserver = (direction, data) => {
      if (direction === 'out') sent.push(data.toString('latin1'));
    };
    try {
      const port = phone.port;
      const reply = new Promise<string>((resolve) => phone.socket.once('message', (m) => resolve(m.toString('latin1'))));
      phone.socket.send(
        `OPTIONS sip:${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bK-${randomBytes(6).toString('hex')}\r\nMax-Forwards: 70\r\n` +
          `From: <sip:probe@${DOMAIN}>;tag=p1\r\nTo: <sip:${DOMAIN}>\r\nCall-ID: probe-${randomBytes(6).toString('hex')}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
        Number(ui.sw.target.split(':')[1]), '127.0.0.1',
      );
      expect(await reply).toMatch(/^SIP\/2\.0 200/);
      expect(sent.some((m) => m.startsWith('SIP/2.0 200'))).toBe(true);
    } finally {
      stack.trafficObserver = undefined;
      phone.received.length = 0;
    }
  });

  it('a looping dialplan hits the CPU limit and says so', async () => {
    const { status, body } = await dryRun(admin, 'loop', { call: callFrom1001 });
    expect(status).toBe(200);
    expect(body.limit).toBe('cpu');
    expect(body.response).toMatchObject({ status: 500, by: 'error' });
    expect(body.error.message).toMatch(/cpu time limit/);
    expect(body.timeline).toEqual([expect.objectContaining({ kind: 'log', message: 'spinning' })]);
  });

  it('runs unsaved source; a compile error is 422 with line and column', async () => {
    const ok = await dryRun(admin, 'two-groups', { source: 'await sys.Respond(403, "Nope");', call: callFrom1001 });
    expect(ok.status).toBe(200);
    expect(ok.body.response).toEqual({ status: 403, reason: 'Nope', by: 'dialplan' });
    const bad = await dryRun(admin, 'two-groups', { source: 'sys.Log("a");\nconst x = ;\n', call: callFrom1001 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0]).toMatchObject({ line: 2, column: expect.any(Number), message: expect.any(String) });
    // Unsaved source for a new name is fine for an admin: nothing is stored.
    expect((await dryRun(admin, 'not-yet-saved', { source: 'sys.Log("x")', call: callFrom1001 })).status).toBe(200);
    expect(await ui.sw.running.db.dialplans.getCurrent(ui.sw.tenantId, 'not-yet-saved')).toBeUndefined();
  });

  it('simulates sys.Callback as two Dials, and a redirect to an own account as a new leg', async () => {
    const cb = await dryRun(admin, 'two-groups', {
      source: 'const r = await sys.Callback("1002@local", "1003@local"); sys.Log(`callback ${r.answered}`);',
      call: callFrom1001, outcomes: [{ pattern: '*', action: 'answer', after: 1 }],
    });
    expect(cb.status).toBe(200);
    const dials = cb.body.timeline.filter((e: { kind: string }) => e.kind === 'dial');
    expect(dials.map((d: { via: string; dialString: string }) => `${d.via} ${d.dialString}`)).toEqual(['Callback 1002@local', 'Callback 1003@local']);
    expect(cb.body.timeline.at(-1).message).toBe('callback true');
    const redirected = await dryRun(admin, 'two-groups', {
      source: 'await sys.Dial("1002@local")',
      call: callFrom1001, outcomes: [{ pattern: '1002@local', action: 'redirect', target: '1003' }, { pattern: '1003@local', action: 'answer' }],
    });
    const dial = redirected.body.timeline.find((e: { kind: string }) => e.kind === 'dial');
    expect(dial.legs).toMatchObject([
      { id: 1, destination: '1002@local', state: 'redirected', status: 302 },
      { id: 2, destination: '1003@local', state: 'answered' },
    ]);
    expect(redirected.body.response.status).toBe(200);
  });

  it('describes an incoming call from an outside number', async () => {
    const r = await dryRun(admin, 'two-groups', {
      source: 'sys.Log(`${req.direction} ${req.from.uri.user} ${req.source.address}:${req.source.port} ${req.account?.username} ${req.headers["x-campaign"]?.[0]}`)',
      call: { direction: 'in', from: { number: '+4930123' }, to: '1002', sourceAddress: '203.0.113.9:5080', headers: { 'X-Campaign': 'spring' } },
    });
    expect(r.status).toBe(200);
    expect(r.body.timeline[0].message).toBe('in +4930123 203.0.113.9:5080 1002 spring');
    expect(r.body.response).toEqual({ status: 480, reason: 'Temporarily Unavailable', by: 'default' });
  });

  it('keeps KV writes in an overlay unless useRealKv', async () => {
    const db = ui.sw.running.db;
    const first = await dryRun(admin, 'kv', { call: callFrom1001 });
    expect(first.body.timeline.find((e: { kind: string }) => e.kind === 'log').message).toBe('1002');
    expect(await db.kv.read(ui.sw.tenantId, 'last')).toBeUndefined();
    await dryRun(admin, 'kv', { call: callFrom1001, useRealKv: true });
    expect(await db.kv.read(ui.sw.tenantId, 'last')).toBe('1002');
  });

  it('answers WebGet from a stub rule, and refuses an unstubbed URL', async () => {
    const stubbed = await dryRun(admin, 'webget', {
      call: callFrom1001, webGet: [{ url: 'https://route.example.com/*', body: '1003' }], outcomes: [{ pattern: '1003@local', action: 'answer' }],
    });
    expect(stubbed.body.response.status).toBe(200);
    expect(stubbed.body.timeline[0]).toMatchObject({ name: 'WebGet', result: '1003' });
    const unstubbed = await dryRun(admin, 'webget', { call: callFrom1001 });
    expect(unstubbed.body.response).toMatchObject({ status: 500, by: 'error' });
    expect(unstubbed.body.timeline[0].error).toMatch(/no rule/);
  });

  it('roles: member for their own dialplans only, receptionist 403, other tenant 404', async () => {
    expect((await dryRun(member, 'member-plan', { call: callFrom1001 })).status).toBe(200);
    expect((await dryRun(member, 'two-groups', { call: callFrom1001 })).status).toBe(404);
    expect((await dryRun(member, 'unsaved-by-member', { source: 'sys.Log(1)', call: callFrom1001 })).status).toBe(404);
    expect((await dryRun(receptionist, 'two-groups', { call: callFrom1001 })).status).toBe(403);
    // Tenant B's admin names tenant A's dialplan: B has none of that name... it runs B's own, never A's.
    expect((await dryRun(otherAdmin, 'member-plan', { call: callFrom1001 })).status).toBe(404);
    // ...and B's own call cannot name A's account as its caller.
    const spoof = await dryRun(otherAdmin, 'two-groups', { call: callFrom1001 });
    expect(spoof.status).toBe(400);
    expect(spoof.body.field).toBe('call.from.account');
  });

  it('bad bodies are 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ call: { ...callFrom1001, direction: 'sideways' } }, 'call.direction'],
      [{ call: { ...callFrom1001, to: 'a b' } }, 'call.to'],
      [{ call: callFrom1001, outcomes: [{ pattern: '*', action: 'fail', status: 200 }] }, 'outcomes.0.status'],
      [{ call: { ...callFrom1001, sourceAddress: 'example.com' } }, 'call.sourceAddress'],
      [{ call: { ...callFrom1001, headers: { 'X-A': 'one\r\nVia: x' } } }, 'call.headers.X-A'],
    ];
    for (const [body, field] of cases) {
      const r = await dryRun(admin, 'two-groups', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.field).toBe(field);
    }
  });
});
