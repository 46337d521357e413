import { describe, expect, it } from 'vitest';
import { parseDialString, type DialLeg } from './dial-string.ts';
import { ManualClock } from './fork-clock.ts';
import { LegBudget, startFork, type LegHandle, type LegObserver, type LegStarter } from './forking.ts';
import { failureRank } from './failure-ranking.ts';

class FakeLeg implements LegHandle {
  cancelled = false;
  constructor(readonly leg: DialLeg, readonly observer: LegObserver) {}
  get name(): string {
    const t = this.leg.target;
    return t.kind === 'uri' ? t.uri : t.kind === 'provider' ? `${t.user}@${t.provider}` : t.kind === 'local' ? `${t.user}@local` : `${t.user}@${t.host}`;
  }
  cancel(): void { this.cancelled = true; }
}

class FakeStarter implements LegStarter<FakeLeg> {
  readonly started: FakeLeg[] = [];
  /** Optional synchronous behaviour on start, by leg name. */
  onStart = new Map<string, (leg: FakeLeg) => void>();
  start(leg: DialLeg, observer: LegObserver): FakeLeg {
    const f = new FakeLeg(leg, observer);
    this.started.push(f);
    this.onStart.get(f.name)?.(f);
    return f;
  }
  get(name: string): FakeLeg {
    const f = this.started.find((l) => l.name === name);
    if (!f) throw new Error(`leg ${name} not started; started: ${this.started.map((l) => l.name).join(', ')}`);
    return f;
  }
  names(): string[] { return this.started.map((l) => l.name); }
}

function setup(dial: string, opts: { ringTimeoutSeconds?: number; legBudget?: LegBudget; ownDomains?: string[] } = {}) {
  const clock = new ManualClock();
  const starter = new FakeStarter();
  const plan = parseDialString(dial, { dst: '100' });
  return { clock, starter, plan, run: () => startFork({ plan, starter, clock, ...opts }) };
}

describe('ForkExecution', () => {
  it('parallel fork: the second answers, the first is cancelled', async () => {
    const { starter, run, clock } = setup('1001@local&1002@local');
    const exec = run();
    expect(starter.names()).toEqual(['1001@local', '1002@local']);
    starter.get('1001@local').observer.ringing();
    clock.advance(2000);
    starter.get('1002@local').observer.progress('v=0 sdp');
    clock.advance(1000);
    starter.get('1002@local').observer.answered({ sdp: 'answer-sdp' });
    const r = await exec.result;
    expect(r).toMatchObject({ answered: true, status: 200, outcome: 'answered' });
    expect(r.winner?.handle).toBe(starter.get('1002@local'));
    expect(r.winner?.answer.sdp).toBe('answer-sdp');
    expect(starter.get('1001@local').cancelled).toBe(true);
    expect(starter.get('1002@local').cancelled).toBe(false);
    expect(r.legs.map((l) => l.state)).toEqual(['cancelled', 'answered']);
    expect(r.legs[0].ringingAt).toBe(r.startedAt);
    expect(r.legs[1].ringingAt).toBe(r.startedAt + 2000);
    expect(r.legs[1].answeredAt).toBe(r.startedAt + 3000);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('sequential fallback after the first group fails', async () => {
    const { starter, run } = setup('1001@local|vm@prov');
    const exec = run();
    expect(starter.names()).toEqual(['1001@local']);
    starter.get('1001@local').observer.failed({ status: 480, reason: 'Temporarily Unavailable' });
    expect(starter.names()).toEqual(['1001@local', 'vm@prov']);
    starter.get('vm@prov').observer.answered({});
    const r = await exec.result;
    expect(r.answered).toBe(true);
    expect(r.winner?.leg.target).toEqual({ kind: 'named', user: 'vm', host: 'prov' });
    expect(r.legs.map((l) => [l.groupIndex, l.state, l.status])).toEqual([[0, 'failed', 480], [1, 'answered', 200]]);
  });

  it('a delayed leg cancelled before its start never starts', async () => {
    const { starter, run, clock } = setup('1001@local&1002@local[dt=10]');
    const exec = run();
    clock.advance(5000);
    expect(starter.names()).toEqual(['1001@local']);
    starter.get('1001@local').observer.answered({});
    clock.advance(60_000);
    const r = await exec.result;
    expect(starter.names()).toEqual(['1001@local']);
    expect(r.legs.map((l) => l.state)).toEqual(['answered', 'not-started']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a delayed leg starts after its delay', async () => {
    const { starter, run, clock } = setup('1001@local&1002@local[dt=10]');
    const exec = run();
    clock.advance(9999);
    expect(starter.names()).toEqual(['1001@local']);
    clock.advance(1);
    expect(starter.names()).toEqual(['1001@local', '1002@local']);
    starter.get('1002@local').observer.answered({});
    const r = await exec.result;
    expect(r.legs[1].startedAt).toBe(r.startedAt + 10_000);
    expect(starter.get('1001@local').cancelled).toBe(true);
  });

  it('when every started leg failed, waiting delayed legs start at once', () => {
    const { starter, run } = setup('1001@local&1002@local[dt=30]');
    run();
    starter.get('1001@local').observer.failed({ status: 404, reason: 'Not Found' });
    expect(starter.names()).toEqual(['1001@local', '1002@local']);
  });

  it('ring timeout cancels every leg', async () => {
    const { starter, run, clock } = setup('1001@local&1002@local&1003@local[dt=40]|vm@prov', { ringTimeoutSeconds: 30 });
    const exec = run();
    starter.get('1001@local').observer.ringing();
    clock.advance(30_000);
    const r = await exec.result;
    expect(r).toMatchObject({ answered: false, status: 408, reason: 'Ring timeout', outcome: 'timeout' });
    expect(starter.get('1001@local').cancelled).toBe(true);
    expect(starter.get('1002@local').cancelled).toBe(true);
    expect(starter.names()).toHaveLength(2);
    expect(r.legs.map((l) => l.state)).toEqual(['cancelled', 'cancelled', 'not-started', 'not-started']);
    expect(r.endedAt - r.startedAt).toBe(30_000);
  });

  it('ring timeout is capped at 180 s', async () => {
    const { run, clock } = setup('1001@local', { ringTimeoutSeconds: 10_000 });
    const exec = run();
    clock.advance(180_000);
    expect((await exec.result).outcome).toBe('timeout');
  });

  it('events after the end are ignored', async () => {
    const { starter, run, clock } = setup('1001@local&1002@local', { ringTimeoutSeconds: 5 });
    const exec = run();
    clock.advance(5000);
    starter.get('1001@local').observer.answered({});
    const r = await exec.result;
    expect(r.outcome).toBe('timeout');
    expect(r.legs[0].state).toBe('cancelled');
  });

  it('all busy → 486; busy beats unavailable and timeouts', async () => {
    const { starter, run } = setup('a@local&b@local&c@local');
    const exec = run();
    starter.get('a@local').observer.failed({ status: 480, reason: 'Temporarily Unavailable' });
    starter.get('b@local').observer.failed({ status: 486, reason: 'Busy Here' });
    starter.get('c@local').observer.failed({ status: 408, reason: 'Request Timeout' });
    const r = await exec.result;
    expect(r).toMatchObject({ answered: false, status: 486, reason: 'Busy Here', outcome: 'failed' });
  });

  it('failure ranking order', () => {
    const order = [600, 603, 486, 404, 488, 500, 503, 480, 408, 302, 487];
    const sorted = [...order].sort((a, b) => failureRank(b) - failureRank(a));
    expect(sorted).toEqual(order);
  });

  it('cancel() by the caller ends with 487 and cancels all legs', async () => {
    const { starter, run, clock } = setup('1001@local&1002@local[dt=5]');
    const exec = run();
    exec.cancel();
    const r = await exec.result;
    expect(r).toMatchObject({ outcome: 'cancelled', status: 487 });
    expect(starter.get('1001@local').cancelled).toBe(true);
    clock.advance(10_000);
    expect(starter.names()).toEqual(['1001@local']);
  });

  it('rm=f: a 3xx is followed anywhere, once per target, in the same group', async () => {
    const { starter, run } = setup('1001@local[rm=f]&sip:x@b.example');
    const exec = run();
    starter.get('1001@local').observer.failed({
      status: 302, reason: 'Moved Temporarily',
      redirectTargets: ['<sip:fwd@a.example>;q=0.5', 'sip:x@B.example', 'sip:fwd@a.example', 'tel:+123'],
    });
    expect(starter.names()).toEqual(['1001@local', 'sip:x@b.example', 'sip:fwd@a.example']);
    const child = starter.get('sip:fwd@a.example');
    child.observer.failed({ status: 302, reason: 'Moved', redirectTargets: ['sip:x@b.example', 'sip:fwd@a.example'] });
    expect(starter.names()).toHaveLength(3);
    starter.get('sip:x@b.example').observer.failed({ status: 486, reason: 'Busy Here' });
    const r = await exec.result;
    expect(r.status).toBe(486);
    expect(r.legs.map((l) => [l.id, l.parentId, l.state, l.status])).toEqual([
      [1, undefined, 'redirected', 302], [2, undefined, 'failed', 486], [3, 1, 'redirected', 302],
    ]);
  });

  it('default rm: a 3xx to anywhere but the tenant\'s accounts starts nothing and asks for a new dialplan run', async () => {
    const { starter, run, clock } = setup('sip:uas@pbx.example|1002@local', { ownDomains: ['acme.test'] });
    const exec = run();
    starter.get('sip:uas@pbx.example').observer.failed({
      status: 302, reason: 'Moved Temporarily',
      redirectTargets: ['<sip:+88212345@127.0.0.1:5999>', 'sip:1001@acme.test.evil.example', 'sip:1001@10.0.0.1;maddr=acme.test'],
    });
    // The next group still runs: the redirect is only the result if nothing better comes.
    expect(starter.names()).toEqual(['sip:uas@pbx.example', '1002@local']);
    clock.advance(1000);
    starter.get('1002@local').observer.failed({ status: 480, reason: 'Not registered' });
    const r = await exec.result;
    expect(r).toMatchObject({
      outcome: 'redirected', status: 302, reason: 'Moved Temporarily',
      redirect: { mode: 'new-dialplan', legId: 1, targets: ['sip:+88212345@127.0.0.1:5999', 'sip:1001@acme.test.evil.example', 'sip:1001@10.0.0.1;maddr=acme.test'] },
    });
    expect(r.legs.map((l) => [l.state, l.status])).toEqual([['redirected', 302], ['failed', 480]]);
  });

  it('default rm: Contacts naming the tenant\'s own accounts become account legs, never their host and port', async () => {
    const { starter, run } = setup('sip:uas@pbx.example', { ownDomains: ['acme.test'] });
    const exec = run();
    starter.get('sip:uas@pbx.example').observer.failed({
      status: 302, reason: 'Moved',
      redirectTargets: ['<sip:1001@ACME.test:5999;transport=tcp>', 'sip:1002@local', 'sip:+49301@gw.example'],
    });
    expect(starter.names()).toEqual(['sip:uas@pbx.example', '1001@local', '1002@local']);
    expect(starter.get('1001@local').leg.target).toEqual({ kind: 'local', user: '1001' });
    starter.get('1001@local').observer.failed({ status: 486, reason: 'Busy Here' });
    starter.get('1002@local').observer.answered({ sdp: 'x' });
    const r = await exec.result;
    expect(r).toMatchObject({ answered: true });
    expect(r.legs.map((l) => [l.id, l.parentId, l.key, l.state])).toEqual([
      [1, undefined, 'uri:sip:uas@pbx.example', 'redirected'], [2, 1, 'local:1001', 'failed'], [3, 1, 'local:1002', 'answered'],
    ]);
  });

  it('default rm without ownDomains: only @local Contacts are own', async () => {
    const { starter, run } = setup('sip:uas@pbx.example');
    const exec = run();
    starter.get('sip:uas@pbx.example').observer.failed({ status: 302, reason: 'Moved', redirectTargets: ['sip:1001@acme.test'] });
    expect(starter.names()).toEqual(['sip:uas@pbx.example']);
    expect((await exec.result).redirect).toMatchObject({ mode: 'new-dialplan', targets: ['sip:1001@acme.test'] });
  });

  it('rm=m leaves the redirect to the script, rm=n asks for a new dialplan run', async () => {
    const m = setup('1001@local[rm=m]&1002@local');
    const execM = m.run();
    m.starter.get('1001@local').observer.failed({ status: 302, reason: 'Moved', redirectTargets: ['<sip:new@x.example>'] });
    expect(m.starter.names()).toHaveLength(2);
    m.starter.get('1002@local').observer.failed({ status: 486, reason: 'Busy Here' });
    const rm = await execM.result;
    expect(rm).toMatchObject({ outcome: 'redirected', status: 302, redirect: { mode: 'manual', targets: ['sip:new@x.example'], legId: 1 } });

    const n = setup('1001@local[rm=n]');
    const execN = n.run();
    n.starter.get('1001@local').observer.failed({ status: 301, reason: 'Moved Permanently', redirectTargets: ['sip:z@y.example'] });
    expect((await execN.result).redirect).toEqual({ mode: 'new-dialplan', status: 301, reason: 'Moved Permanently', targets: ['sip:z@y.example'], legId: 1 });
  });

  it('leg cap: at most the budget is started across Dials', async () => {
    const budget = new LegBudget(3);
    const first = setup('a@local&b@local', { legBudget: budget });
    const e1 = first.run();
    first.starter.get('a@local').observer.failed({ status: 404, reason: 'Not Found' });
    first.starter.get('b@local').observer.failed({ status: 404, reason: 'Not Found' });
    await e1.result;
    const second = setup('c@local&d@local|e@local', { legBudget: budget });
    const e2 = second.run();
    expect(second.starter.names()).toEqual(['c@local']);
    second.starter.get('c@local').observer.failed({ status: 404, reason: 'Not Found' });
    const r = await e2.result;
    expect(r.legs.map((l) => l.state)).toEqual(['failed', 'over-limit', 'over-limit']);
    expect(r.status).toBe(404);
    expect(budget.remaining).toBe(0);
    const third = setup('f@local', { legBudget: budget });
    expect(await third.run().result).toMatchObject({ status: 503, reason: 'Dial leg limit reached', answered: false });
  });

  it('default budget is 20 legs', async () => {
    const dial = Array.from({ length: 25 }, (_, i) => `u${i}@local`).join('&');
    const { starter, run } = setup(dial);
    const exec = run();
    expect(starter.started).toHaveLength(20);
    for (const l of starter.started) l.observer.failed({ status: 480, reason: 'x' });
    expect((await exec.result).legs.filter((l) => l.state === 'over-limit')).toHaveLength(5);
  });

  it('synchronous events from start() are handled after start returns', async () => {
    const { starter, run } = setup('a@local&b@local|c@local');
    starter.onStart.set('a@local', (l) => l.observer.failed({ status: 503, reason: 'Service Unavailable' }));
    starter.onStart.set('b@local', (l) => l.observer.answered({}));
    const r = await run().result;
    expect(r.answered).toBe(true);
    expect(r.winner?.handle).toBe(starter.get('b@local'));
    expect(starter.names()).toEqual(['a@local', 'b@local']);
  });

  it('a throwing starter counts as a failed leg', async () => {
    const clock = new ManualClock();
    const plan = parseDialString('a@local|b@local', { dst: '1' });
    const names: string[] = [];
    const r = await startFork({
      plan, clock,
      starter: { start(leg) { names.push(leg.key); throw new Error('no route'); } },
    }).result;
    expect(names).toEqual(['local:a', 'local:b']);
    expect(r).toMatchObject({ status: 500, outcome: 'failed' });
    expect(r.reason).toMatch(/no route/);
  });

  it('a second answer after the winner is cancelled', async () => {
    const { starter, run } = setup('a@local&b@local');
    starter.onStart.set('b@local', (l) => { starter.get('a@local').observer.answered({}); l.observer.answered({}); });
    const r = await run().result;
    expect(r.winner?.handle).toBe(starter.get('a@local'));
    expect(starter.get('b@local').cancelled).toBe(true);
  });
});
