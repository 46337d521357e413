import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DialplanRequest, DialResult, SandboxLimits } from './protocol.ts';
import { SandboxSupervisor, type SandboxHost } from './sandbox-supervisor.ts';
import { compiledDialplan } from './test-fixtures/dialplan-run-inputs.ts';

const request: DialplanRequest = {
  method: 'INVITE',
  uri: { user: '0301234', host: 'acme.example', params: { transport: 'udp' }, raw: 'sip:0301234@acme.example;transport=udp' },
  from: { displayName: 'Alice', uri: { user: 'alice', host: 'acme.example', params: {}, raw: 'sip:alice@acme.example' }, tag: 'f1' },
  to: { uri: { user: '0301234', host: 'acme.example', params: {}, raw: 'sip:0301234@acme.example' } },
  callId: 'call-1@test',
  headers: { 'user-agent': ['test'] },
  body: '',
  source: { address: '127.0.0.1', port: 5062, transport: 'udp' },
  account: { username: 'alice', domain: 'acme.example' },
  direction: 'out',
};

const busy: DialResult = { answered: false, status: 486, reason: 'Busy Here', outcome: 'busy' };

/** Records every sys call; answers from a table of handlers. */
class FakeHost implements SandboxHost {
  readonly calls: { name: string; args: unknown[] }[] = [];
  constructor(private readonly handlers: Record<string, (args: unknown[]) => unknown> = {}) {}
  async call(name: string, args: unknown[]): Promise<unknown> {
    this.calls.push({ name, args });
    const handler = this.handlers[name];
    if (handler) return handler(args);
    if (name === 'Dial') return busy;
    return null;
  }
  logs(): string[] {
    return this.calls.filter((call) => call.name === 'Log').map((call) => String(call.args[0]));
  }
  count(name: string): number {
    return this.calls.filter((call) => call.name === name).length;
  }
}

let supervisor: SandboxSupervisor;
let runCounter = 0;

async function run(source: string, host: SandboxHost, limits?: Partial<SandboxLimits>, tenantId = 'tenant-a') {
  const compiled = await compiledDialplan(source);
  runCounter++;
  return supervisor.run(
    { tenantId, callId: `call-${runCounter}`, dialplanName: 'default', js: compiled.js, sourceMap: compiled.sourceMap, req: request, limits },
    host,
  );
}

async function expectHealthy(): Promise<void> {
  const host = new FakeHost();
  expect(await run('sys.Log("still alive");', host)).toEqual({ status: 'completed' });
  expect(host.logs()).toEqual(['still alive']);
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

beforeAll(async () => {
  supervisor = new SandboxSupervisor({ restartBackoff: { initialMs: 20, maxMs: 200 } });
  await supervisor.start();
});

afterAll(async () => {
  await supervisor.stop();
});

describe('running dialplans', () => {
  it('forwards Log and Dial to the host, in order, and returns Dial results', async () => {
    const host = new FakeHost();
    const result = await run(
      `sys.Log('call from ' + req.from.uri.user + ' to ' + req.uri.user);
       const r = await sys.Dial(req.uri.user.slice(1) + '@mytrunk[fu=0211234567]', { ringTimeout: 30 });
       sys.Log(r.answered + ' ' + r.status + ' ' + r.reason + ' ' + r.outcome);
       sys.Log(sys.LastFailureStatus + ' ' + sys.LastFailureReason);
       sys.Log([sys.In, sys.Out, sys.Username, sys.DialPlanName].join(','));`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.calls.map((call) => call.name)).toEqual(['Log', 'Dial', 'Log', 'Log', 'Log']);
    expect(host.calls[1]?.args).toEqual(['301234@mytrunk[fu=0211234567]', { ringTimeout: 30 }]);
    expect(host.logs()).toEqual(['call from alice to 0301234', 'false 486 Busy Here busy', '486 Busy Here', 'false,true,alice,default']);
  });

  it('runs TypeScript with types, top-level return and host results by copy', async () => {
    const host = new FakeHost({ DBRead: () => ({ nested: { list: [1, 2, 3] } }) });
    const result = await run(
      `interface Stored { nested: { list: number[] } }
       const value = (await sys.DBRead('key')) as Stored;
       value.nested.list.push(4);
       sys.Log(value.nested.list.join('+'));
       if (value.nested.list.length === 4) return;
       sys.Log('not reached');`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['1+2+3+4']);
  });

  it('reports a throw with the line of the original TypeScript', async () => {
    const source = [
      'type Destination = { user: string };',
      'interface Options { ringTimeout: number }',
      'type Unused = Options | Destination;',
      'const d: Destination = { user: req.uri.user };',
      'if (d.user) throw new Error("no route for " + d.user);',
    ].join('\n');
    const compiled = await compiledDialplan(source);
    expect(compiled.js.split('\n').findIndex((line) => line.includes('throw')) + 1).not.toBe(5);
    const result = await run(source, new FakeHost());
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'no route for 0301234', line: 5, column: 19 });
  });

  it('maps a throw after an await back to its line', async () => {
    const result = await run('type A = 1;\nawait sys.Dial("a@local");\n\nnull.x;', new FakeHost());
    expect(result).toMatchObject({ status: 'failed', code: 500, line: 4 });
  });

  it('a rejecting host function becomes a plain Error in the dialplan and crashes nothing', async () => {
    const host = new FakeHost({
      DBRead: () => Promise.reject(new Error('database down')),
      DBWrite: () => {
        throw new Error('sync failure');
      },
    });
    const caught = await run(
      `try { await sys.DBRead('k'); } catch (e) {
         sys.Log(e instanceof Error ? 'Error:' + e.message : 'other');
         sys.Log(String(e.stack).includes('sandbox-supervisor') || String(e.stack).includes('node:') ? 'host stack' : 'clean');
       }
       try { await sys.DBWrite('k', 1); } catch (e) { sys.Log(e.message); }`,
      host,
    );
    expect(caught).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['Error:database down', 'clean', 'sync failure']);
    const uncaught = await run("await sys.DBRead('k');", host);
    expect(uncaught).toMatchObject({ status: 'failed', code: 500, reason: 'database down', line: 1 });
    await expectHealthy();
  });
});

describe('bad input', () => {
  it('stored JS that does not parse fails with 500 and the next run works', async () => {
    const result = await supervisor.run(
      { tenantId: 'tenant-a', callId: 'broken', dialplanName: 'default', js: 'let x = ;', sourceMap: '{}', req: request },
      new FakeHost(),
    );
    expect(result).toMatchObject({ status: 'failed', code: 500, reason: expect.stringMatching(/Unexpected token/) });
    await expectHealthy();
  });

  it('a host result that is not JSON becomes an error in the dialplan', async () => {
    const host = new FakeHost({ DBRead: () => 10n });
    const result = await run("try { await sys.DBRead('k'); } catch (e) { sys.Log('caught ' + (e as Error).message); }", host);
    expect(result).toEqual({ status: 'completed' });
    expect(host.logs()[0]).toMatch(/^caught .*BigInt/);
  });

  it('arguments that are not JSON are refused inside the isolate', async () => {
    const host = new FakeHost();
    const result = await run('const a: any = {}; a.self = a;\nawait sys.DBWrite("k", a);', host);
    expect(result).toMatchObject({ status: 'failed', code: 500, reason: 'sys.DBWrite: arguments must be plain JSON values', line: 2 });
    expect(host.count('DBWrite')).toBe(0);
  });
});

describe('isolation', () => {
  it('sys is frozen and req is a plain copy', async () => {
    const host = new FakeHost();
    const result = await run(
      `sys.Log(String(Object.isFrozen(sys)));
       (() => { 'use strict'; try { (sys as any).Dial = null; sys.Log('assigned'); } catch { sys.Log('refused'); } })();
       try { (globalThis as any).sys = null; } catch {}
       sys.Log(typeof sys.Dial);
       sys.Log(Object.getPrototypeOf(req) === Object.prototype ? 'plain' : 'exotic');
       sys.Log(req.headers['user-agent'][0] + ' ' + req.source.port);`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['true', 'refused', 'function', 'plain', 'test 5062']);
  });

  it('no host object is reachable', async () => {
    const host = new FakeHost();
    const result = await run(
      `const g = (sys as any).constructor.constructor('return this')();
       const g2 = (sys.Dial as any).constructor('return this')();
       sys.Log([typeof process, typeof require, typeof g.process, typeof g.require, typeof g2, typeof (globalThis as any).ivm].join(','));
       sys.Log(Object.getOwnPropertyNames(globalThis).filter((n) => /^(_?ivm|isolated.*|Reference|ExternalCopy|Callback|Isolate|Context|Script|\\$\\d)$/i.test(n)).join(',') || 'none');`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['undefined,undefined,undefined,undefined,object,undefined', 'none']);
  });

  it('an unknown sys name is not callable', async () => {
    const result = await run('(sys as any).Eval("1");', new FakeHost());
    expect(result).toMatchObject({ status: 'failed', code: 500, reason: expect.stringMatching(/not a function/) });
  });
});

describe('limits', () => {
  it('a synchronous endless loop hits the CPU limit, and the next run works', async () => {
    expect(await run('while (true) {}', new FakeHost(), { cpuMs: 100 })).toEqual({ status: 'failed', code: 500, reason: 'cpu time limit exceeded' });
    await expectHealthy();
  });

  it('an endless loop after an await hits the CPU limit', async () => {
    const host = new FakeHost();
    const result = await run("await sys.IsAvailable('1001');\nlet i = 0;\nwhile (true) { i++; }", host, { cpuMs: 100 });
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'cpu time limit exceeded' });
    expect(host.count('IsAvailable')).toBe(1);
    await expectHealthy();
  });

  // Each tenant below is new to the worker, so its calls into the isolate start on the worker's
  // own thread (segment-mode.ts), where only isolated-vm's timeout can stop a loop.
  it('on the worker thread, a Log just before an endless loop still reaches the host, ahead of the CPU limit', async () => {
    const host = new FakeHost();
    const result = await run('sys.Log("spinning");\nsys.Log("still");\nwhile (true) {}', host, { cpuMs: 100 }, 'fresh-log-loop');
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'cpu time limit exceeded' });
    expect(host.logs()).toEqual(['spinning', 'still']);
  });

  it('on the worker thread, an endless loop after an await and a memory bomb are stopped too', async () => {
    const host = new FakeHost();
    const looped = await run("await sys.IsAvailable('1001');\nlet i = 0;\nwhile (true) { i++; }", host, { cpuMs: 100 }, 'fresh-loop');
    expect(looped).toEqual({ status: 'failed', code: 500, reason: 'cpu time limit exceeded' });
    expect(host.count('IsAvailable')).toBe(1);
    const bomb = await run('const keep: number[][] = [];\nwhile (true) keep.push(new Array(1_000_000).fill(0.5));', new FakeHost(), { cpuMs: 20_000 }, 'fresh-bomb');
    expect(bomb).toEqual({ status: 'failed', code: 500, reason: 'memory limit exceeded' });
    await expectHealthy();
  });

  it('a tenant whose segment ran long goes to the thread pool, where the CPU watchdog still stops its loops', async () => {
    const spin = 'const end = Date.now() + 80; while (Date.now() < end) {} sys.Log("spun");';
    const host = new FakeHost();
    expect(await run(spin, host, undefined, 'slow-tenant')).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['spun']);
    const looped = await run("await sys.IsAvailable('1001');\nwhile (true) {}", new FakeHost(), { cpuMs: 100 }, 'slow-tenant');
    expect(looped).toEqual({ status: 'failed', code: 500, reason: 'cpu time limit exceeded' });
    expect(await run('while (true) {}', new FakeHost(), { cpuMs: 100 }, 'slow-tenant')).toEqual({ status: 'failed', code: 500, reason: 'cpu time limit exceeded' });
    await expectHealthy();
  });

  it('time spent waiting in Dial is not CPU time', async () => {
    const host = new FakeHost({ Dial: () => new Promise((resolve) => setTimeout(() => resolve(busy), 300)) });
    expect(await run("await sys.Dial('a@local');", host, { cpuMs: 100 })).toEqual({ status: 'completed' });
  });

  it('a memory bomb disposes the isolate, and the next run works', async () => {
    // A generous CPU budget so that a slow, GC-heavy machine still meets the memory limit first.
    const result = await run('const keep: number[][] = [];\nwhile (true) keep.push(new Array(1_000_000).fill(0.5));', new FakeHost(), { cpuMs: 20_000 });
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'memory limit exceeded' });
    await expectHealthy();
  });

  it('the wall clock before the first Dial is limited', async () => {
    const result = await run('await new Promise(() => {});', new FakeHost(), { wallClockMs: 150 });
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'wall clock limit exceeded' });
    await expectHealthy();
  });

  it('a Dial pauses the wall clock and grants a fresh budget', async () => {
    const host = new FakeHost({
      Dial: () => new Promise((resolve) => setTimeout(() => resolve(busy), 600)),
      WebGet: () => new Promise((resolve) => setTimeout(() => resolve('ok'), 150)),
    });
    const source = "await sys.WebGet('https://example.com');\nawait sys.Dial('a@local');\nawait sys.WebGet('https://example.com');";
    expect(await run(source, host, { wallClockMs: 400 })).toEqual({ status: 'completed' });
    expect(host.calls.map((call) => call.name)).toEqual(['WebGet', 'Dial', 'WebGet']);
  });

  it('a Callback pauses the wall clock like a Dial', async () => {
    const host = new FakeHost({
      Callback: () => new Promise((resolve) => setTimeout(() => resolve({ answered: true, status: 200, reason: 'OK' }), 600)),
    });
    expect(await run("const r = await sys.Callback('a@local', 'b@local'); sys.Log(r.status);", host, { wallClockMs: 400 })).toEqual({ status: 'completed' });
  });

  it('the absolute limit applies even while dialing', async () => {
    const host = new FakeHost({ Dial: () => new Promise(() => {}) });
    const result = await run("await sys.Dial('a@local');", host, { absoluteMs: 200 });
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'absolute time limit exceeded' });
    await expectHealthy();
  });

  it('refuses the 21st Dial with a clear error', async () => {
    const host = new FakeHost();
    const result = await run(
      `for (let i = 1; i <= 21; i++) {
         try { await sys.Dial(i + '@local'); } catch (e) { sys.Log('dial ' + i + ': ' + (e as Error).message); }
       }`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.count('Dial')).toBe(20);
    expect(host.logs()).toEqual(['dial 21: sys.Dial refused: a dialplan may call Dial at most 20 times per call']);
  });

  it('refuses the 4th Callback', async () => {
    const host = new FakeHost();
    const result = await run(`for (let i = 1; i <= 4; i++) await sys.Callback('1001@local', i + '@prov');`, host);
    expect(result).toMatchObject({ status: 'failed', code: 500, reason: expect.stringMatching(/Callback refused/), line: 1 });
    expect(host.count('Callback')).toBe(3);
  });

  it('runs at most 5 dialplans of a tenant at once', async () => {
    const gate = deferred<DialResult>();
    const host = new FakeHost({ Dial: () => gate.promise });
    const running = Array.from({ length: 5 }, () => run("await sys.Dial('a@local');", host));
    await waitFor(() => host.count('Dial') === 5);
    expect(await run('sys.Log("sixth");', host)).toEqual({ status: 'failed', code: 503, reason: 'too many concurrent outbound dialplans' });
    expect(await run('sys.Log("other tenant");', host, undefined, 'tenant-b')).toEqual({ status: 'completed' });
    gate.resolve(busy);
    expect(await Promise.all(running)).toEqual(Array.from({ length: 5 }, () => ({ status: 'completed' })));
    expect(supervisor.runningFor('tenant-a')).toBe(0);
    await expectHealthy();
  });
});

describe('reusing isolates of a tenant', () => {
  it('globals, prototypes and req of one execution are gone in the next', async () => {
    const first = new FakeHost();
    const polluter = `(globalThis as any).leak = 'secret';
       (Array.prototype as any).leak = 'proto';
       (Object.prototype as any).toString = () => 'patched';
       (req as any).uri.user = 'changed';
       sys.Log('set');`;
    expect(await run(polluter, first)).toEqual({ status: 'completed' });
    for (let i = 0; i < 3; i++) {
      const host = new FakeHost();
      const probe = `sys.Log([typeof (globalThis as any).leak, typeof ([] as any).leak, String({}), req.uri.user].join(','));`;
      expect(await run(probe, host)).toEqual({ status: 'completed' });
      expect(host.logs()).toEqual(['undefined,undefined,[object Object],0301234']);
    }
  });

  it('heap kept in globals by finished executions is collectable by the next ones', async () => {
    // Each run keeps ~12 MiB reachable from its own global; 8 runs would exceed 32 MiB if a
    // finished context stayed alive.
    for (let i = 0; i < 8; i++) {
      const result = await run('(globalThis as any).keep = new Array(1_500_000).fill(0.5); sys.Log("kept");', new FakeHost(), { cpuMs: 5_000 });
      expect(result).toEqual({ status: 'completed' });
    }
    await expectHealthy();
  });

  it('code left running after the dialplan completed is stopped by the CPU limit, and the tenant keeps working', async () => {
    const source = 'void (async () => { for (let i = 0; i < 3; i++) await null; for (;;) {} })();\nsys.Log("returning");';
    const host = new FakeHost();
    expect(await run(source, host, { cpuMs: 100 })).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['returning']);
    for (let i = 0; i < 3; i++) await expectHealthy();
  });

  it('a dialplan that does not await its Dial completes, and its late answer reaches nothing', async () => {
    const gate = deferred<DialResult>();
    const host = new FakeHost({ Dial: () => gate.promise });
    expect(await run("void sys.Dial('a@local').then(() => sys.Log('late'));", host)).toEqual({ status: 'completed' });
    expect(host.count('Dial')).toBe(1);
    gate.resolve(busy);
    await expectHealthy();
    expect(host.logs()).toEqual([]);
  });
});

describe('supervision', () => {
  it('a killed child fails its executions with 503 and is restarted', async () => {
    const host = new FakeHost({ Dial: () => new Promise(() => {}) });
    const pending = run("await sys.Dial('a@local');", host);
    await waitFor(() => host.count('Dial') === 1);
    const pid = supervisor.pid;
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGKILL');
    expect(await pending).toEqual({ status: 'failed', code: 503, reason: 'sandbox process exited (SIGKILL)' });
    await expectHealthy();
    expect(supervisor.pid).not.toBe(pid);
  });
});
