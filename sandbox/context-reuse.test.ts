import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { DIALPLAN_WRAPPER_PREFIX } from './dialplan-wrapper.ts';
import type { StepOutcome } from './test-fixtures/context-reuse-runner.ts';

/**
 * One context serves every run of a tenant's isolate (isolate-setup.ts). These are the
 * attacker's tests of that: a run tries every way we know to leave something behind — its
 * caller's number in a global, a patched prototype, a closure hung on a frozen object — and the
 * next run of the same tenant, in the same isolate (checked: the runner says which isolate
 * served each run), must find a context as clean as a fresh one.
 */

const RUNNER = fileURLToPath(new URL('./test-fixtures/context-reuse-runner.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function runSteps(
  steps: { tenantId: string; source: string; user?: string; stored?: { js: string; sourceMap: string } }[],
  segments?: 'pool',
): StepOutcome[] {
  const out = execFileSync(process.execPath, ['--no-node-snapshot', '--import', TSX, RUNNER], {
    input: JSON.stringify({ steps, ...(segments && { segments }) }),
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as StepOutcome[];
}

/** Every write a dialplan might try, each on its own so one refusal does not stop the rest. */
const POLLUTER = `
const g = globalThis as any;
const secret = req.from.uri.user;
const tried: string[] = [];
// Through a sloppy function's \`caller\`, code reaches the dialplan's own function object, the
// one thing kept per dialplan in the context: what an earlier run hung on it must not be there.
function spy(): any { return (spy as any).caller; }
const self = spy();
const before = typeof self?.leak;
const attempt = (name: string, f: () => void) => { try { f(); tried.push(name); } catch { tried.push(name + ':threw'); } };
attempt('global', () => { g.leak = secret; });
attempt('implicit', () => { leakImplicit = secret; });
attempt('this', () => { (this as any).leakThis = secret; });
attempt('eval var', () => { (0, eval)('var leakVar = "' + secret + '"; function leakFn() { return "' + secret + '"; }'); });
attempt('symbol key', () => { g[Symbol.for('leak')] = secret; });
attempt('global proto', () => { Object.setPrototypeOf(globalThis, { leakInherited: secret }); });
attempt('global proto object', () => { (Object.getPrototypeOf(globalThis) as any).leakProto = secret; });
attempt('Array.prototype', () => { (Array.prototype as any).leak = secret; });
attempt('Array.prototype getter', () => { Object.defineProperty(Array.prototype, 'leakGetter', { get: () => secret }); });
attempt('Object.prototype', () => { (Object.prototype as any).leak = secret; });
attempt('Object.prototype.toString', () => { Object.prototype.toString = () => secret; });
attempt('Function.prototype.call', () => { (Function.prototype as any).call = () => secret; });
attempt('Promise.prototype.then', () => { (Promise.prototype as any).then = () => secret; });
attempt('String.prototype.trim', () => { String.prototype.trim = () => secret; });
attempt('async function proto', () => { (Object.getPrototypeOf(async () => {}) as any).leak = secret; });
attempt('generator proto', () => { (Object.getPrototypeOf(function* () {}) as any).prototype.leak = secret; });
attempt('iterator proto', () => { (Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as any).leak = secret; });
attempt('JSON.parse', () => { (JSON as any).parse = () => secret; });
attempt('Math.random', () => { (Math as any).random = () => secret; });
attempt('Error.prepareStackTrace', () => { (Error as any).prepareStackTrace = () => secret; });
attempt('replace Array', () => { g.Array = function () { return secret; }; });
attempt('delete JSON', () => { delete g.JSON; });
attempt('sys property', () => { (sys as any).leak = () => secret; });
attempt('sys.Log property', () => { (sys.Log as any).leak = () => secret; });
attempt('sys getter property', () => { (Object.getOwnPropertyDescriptor(globalThis, 'sys')!.get as any).leak = () => secret; });
attempt('req setter property', () => { (Object.getOwnPropertyDescriptor(globalThis, 'req')!.set as any).leak = () => secret; });
attempt('override getter property', () => { (Object.getOwnPropertyDescriptor(Object.prototype, 'toString')!.get as any).leak = () => secret; });
attempt('dialplan function', () => { self.leak = secret; });
attempt('RegExp statics', () => { /([a-z]+)/.exec(secret); });
attempt('req object', () => { req.uri.user = secret; });
attempt('req global', () => { g.req = { leak: secret }; });
sys.Log(tried.length > 0 ? 'polluted, found ' + before : 'nothing');
`;

/** What a run of the tenant observes; a fresh context gives exactly CLEAN. */
const PROBE = `
const g = globalThis as any;
const regexpStatics = [(RegExp as any).$1, (RegExp as any).lastMatch, (RegExp as any).input, (RegExp as any).leftContext].map((v) => typeof v);
const seen = {
  regexpStatics,
  ownGlobals: Reflect.ownKeys(globalThis).map(String).filter((n) => n.toLowerCase().includes('leak')),
  inherited: [typeof g.leakInherited, typeof g.leakProto],
  arrayProto: [typeof ([] as any).leak, typeof ([] as any).leakGetter],
  objectProto: typeof ({} as any).leak,
  toString: String({}),
  call: typeof (function () { return 1; }).call(null),
  then: typeof Promise.resolve(1).then(() => 1),
  trim: ' x '.trim(),
  hiddenProtos: [
    typeof (Object.getPrototypeOf(async () => {}) as any).leak,
    typeof (Object.getPrototypeOf(function* () {}) as any).prototype.leak,
    typeof (Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as any).leak,
  ],
  json: typeof JSON === 'object' ? JSON.stringify(JSON.parse('{"a":1}')) : 'gone',
  random: typeof Math.random(),
  prepareStackTrace: typeof (Error as any).prepareStackTrace,
  array: Array.isArray(Array.of(1)),
  sys: [typeof (sys as any).leak, typeof (sys.Log as any).leak, typeof (Object.getOwnPropertyDescriptor(globalThis, 'sys')!.get as any).leak],
  accessors: [typeof (Object.getOwnPropertyDescriptor(globalThis, 'req')!.set as any).leak, typeof (Object.getOwnPropertyDescriptor(Object.prototype, 'toString')!.get as any).leak],
  req: [req.from.uri.user, req.uri.user, typeof (req as any).leak],
  laterCode: [typeof (globalThis as any).WeakRef, typeof (globalThis as any).FinalizationRegistry, typeof (globalThis as any).WebAssembly, typeof (globalThis as any).SharedArrayBuffer, typeof (globalThis as any).Atomics],
};
sys.Log(JSON.stringify(seen));
`;

const CLEAN = {
  regexpStatics: ['undefined', 'undefined', 'undefined', 'undefined'],
  ownGlobals: [],
  inherited: ['undefined', 'undefined'],
  arrayProto: ['undefined', 'undefined'],
  objectProto: 'undefined',
  toString: '[object Object]',
  call: 'number',
  then: 'object',
  trim: 'x',
  hiddenProtos: ['undefined', 'undefined', 'undefined'],
  json: '{"a":1}',
  random: 'number',
  prepareStackTrace: 'undefined',
  array: true,
  sys: ['undefined', 'undefined', 'undefined'],
  accessors: ['undefined', 'undefined'],
  req: ['bob', '100', 'undefined'],
  laterCode: ['undefined', 'undefined', 'undefined', 'undefined', 'undefined'],
};

function observed(outcome: StepOutcome | undefined): unknown {
  expect(outcome?.result).toEqual({ status: 'completed' });
  expect(outcome?.logs).toHaveLength(1);
  return JSON.parse(outcome?.logs[0] ?? 'null');
}

describe('one hardened context per isolate, reused by the runs of its tenant', () => {
  // Calls into the isolate made on the worker's thread (a tenant with short segments) and through
  // isolated-vm's thread pool (one whose segments ran long) must leave the same clean context.
  it.each([['on the worker thread', undefined], ['through the thread pool', 'pool']] as const)('a run finds nothing of what the previous run of its tenant left in globals, prototypes or frozen objects (calls %s)', (_how, segments) => {
    const [polluted, probe, secondPolluted, secondProbe] = runSteps([
      { tenantId: 't1', source: POLLUTER, user: 'alice' },
      { tenantId: 't1', source: PROBE, user: 'bob' },
      // The same dialplan again: its compiled function is the one kept in the context.
      { tenantId: 't1', source: POLLUTER, user: 'carol' },
      { tenantId: 't1', source: PROBE, user: 'bob' },
    ], segments);
    expect([polluted, probe, secondPolluted, secondProbe].map((o) => o?.sync)).toEqual(Array(4).fill(segments === undefined));
    expect(polluted?.result).toEqual({ status: 'completed' });
    expect(polluted?.logs).toEqual(['polluted, found undefined']);
    expect(observed(probe)).toEqual(CLEAN);
    expect(observed(secondProbe)).toEqual(CLEAN);
    expect(secondPolluted?.logs).toEqual(['polluted, found undefined']);
    // All four in one isolate: the probes really ran where the polluter had.
    expect(new Set([polluted, probe, secondPolluted, secondProbe].map((o) => o?.isolate))).toEqual(new Set([1]));
  });

  it('the writes that do work inside a run (its own globals) are visible to that run, so the probe can see them', () => {
    const [own] = runSteps([
      {
        tenantId: 't1',
        source: `(globalThis as any).leak = req.from.uri.user; leakImplicit = 1; /([a-z]+)/.exec('dave');
          Object.setPrototypeOf(globalThis, { leakInherited: 1 });
          sys.Log([typeof (globalThis as any).leak, typeof (globalThis as any).leakImplicit, typeof (globalThis as any).leakInherited, (RegExp as any).$1 === undefined].join(','));`,
      },
    ]);
    expect(own?.logs).toEqual(['string,number,number,true']);
  });

  it('a global the run made impossible to delete, or a global made non-extensible, retires the isolate', () => {
    const outcomes = runSteps([
      { tenantId: 't1', source: `Object.defineProperty(globalThis, 'leakStuck', { value: req.from.uri.user, configurable: false }); sys.Log('stuck');` },
      { tenantId: 't1', source: PROBE, user: 'bob' },
      { tenantId: 't1', source: `Object.preventExtensions(globalThis); sys.Log('sealed');` },
      { tenantId: 't1', source: PROBE, user: 'bob' },
    ]);
    expect(outcomes.map((o) => o.logs[0])).toEqual(['stuck', expect.any(String), 'sealed', expect.any(String)]);
    expect(observed(outcomes[1])).toEqual(CLEAN);
    expect(observed(outcomes[3])).toEqual(CLEAN);
    expect(outcomes.map((o) => o.isolate)).toEqual([1, 2, 2, 3]);
  });

  it('code a run left behind that makes the global undeletable after the run ended moves the next run to a fresh isolate', () => {
    const outcomes = runSteps([
      {
        tenantId: 't1',
        source: `void (async () => { for (let i = 0; i < 5; i++) await null; Object.defineProperty(globalThis, 'leakLate', { value: req.from.uri.user, configurable: false }); })();
          sys.Log('returning');`,
      },
      { tenantId: 't1', source: PROBE, user: 'bob' },
      { tenantId: 't1', source: PROBE, user: 'bob' },
    ]);
    expect(outcomes[0]?.logs).toEqual(['returning']);
    expect(observed(outcomes[1])).toEqual(CLEAN);
    // The first isolate was checked at the next run's start, found dirty and retired; the run
    // went on in a new one, which then served the tenant again.
    expect(outcomes.map((o) => o.isolate)).toEqual([1, 2, 2]);
  });

  it('a dialplan whose lowered syntax needs esbuild helpers keeps its isolate, and its throw still maps to its line', () => {
    const source = `function tag(target: any) { return target; }
@tag class Greeter {}
sys.Log(typeof Greeter);
if (req.from.uri.user === 'bob') throw new Error('bob may not call');`;
    const outcomes = runSteps([
      { tenantId: 't1', source, user: 'alice' },
      { tenantId: 't1', source, user: 'alice' },
      { tenantId: 't1', source, user: 'bob' },
    ]);
    expect(outcomes.map((o) => o.logs)).toEqual([['function'], ['function'], ['function']]);
    expect(outcomes[0]?.result).toEqual({ status: 'completed' });
    expect(outcomes[2]?.result).toMatchObject({ status: 'failed', code: 500, reason: 'bob may not call', line: 4 });
    // The helpers did not land on the global as undeletable vars: one isolate served all three.
    expect(outcomes.map((o) => o.isolate)).toEqual([1, 1, 1]);
  });

  it('stored JS of an older compile, with the helpers as top-level vars, is enclosed when it runs', async () => {
    const source = 'function tag(target: any) { return target; }\n@tag class Greeter {}\nsys.Log(typeof Greeter);';
    // What compileDialplan stored before it enclosed the helpers: esbuild's output as it is.
    const output = await transform(`${DIALPLAN_WRAPPER_PREFIX}${source}\n})`, { loader: 'ts', sourcemap: 'external', sourcesContent: false, target: 'es2022' });
    expect(output.code.startsWith('var ')).toBe(true);
    const stored = { js: output.code, sourceMap: output.map };
    const outcomes = runSteps([
      { tenantId: 't1', source, stored },
      { tenantId: 't1', source, stored },
    ]);
    expect(outcomes.map((o) => [o.result, o.logs])).toEqual([
      [{ status: 'completed' }, ['function']],
      [{ status: 'completed' }, ['function']],
    ]);
    expect(outcomes.map((o) => o.isolate)).toEqual([1, 1]);
  });

  it('another tenant never runs in the isolate of the first', () => {
    const outcomes = runSteps([
      { tenantId: 't1', source: POLLUTER, user: 'alice' },
      { tenantId: 't2', source: PROBE, user: 'bob' },
      { tenantId: 't1', source: PROBE, user: 'bob' },
    ]);
    expect(observed(outcomes[1])).toEqual(CLEAN);
    const [first, other, again] = outcomes.map((o) => o.isolate);
    expect(other).not.toBe(first);
    expect(again).not.toBe(other);
  });

  it('ordinary code that assigns inherited names on its own objects still works on frozen intrinsics', () => {
    const [run] = runSteps([
      {
        tenantId: 't1',
        source: `class MyError extends Error { constructor(m: string) { super(m); this.name = 'MyError'; } }
          const o: any = {}; o.toString = () => 'custom';
          function F(this: any) {} F.prototype = Object.create(Object.prototype); F.prototype.constructor = F;
          const list: any = [1, 2]; list.toString = () => 'list';
          sys.Log([String(new MyError('x')), String(o), F.prototype.constructor === F, String(list), Object.prototype.toString.call([])].join('|'));`,
      },
    ]);
    expect(run?.result).toEqual({ status: 'completed' });
    expect(run?.logs).toEqual(['MyError: x|custom|true|list|[object Array]']);
  });

  it('a tenant whose segment ran long goes to the thread pool, another tenant does not, and both still find a clean context', () => {
    const spin = 'const end = Date.now() + 80; while (Date.now() < end) {} (globalThis as any).leak = req.from.uri.user; sys.Log("spun");';
    const bomb = 'const keep: number[][] = [];\nwhile (true) keep.push(new Array(1_000_000).fill(0.5));';
    const outcomes = runSteps([
      { tenantId: 't1', source: spin, user: 'alice' },
      { tenantId: 't1', source: PROBE, user: 'bob' },
      { tenantId: 't2', source: PROBE, user: 'bob' },
      // An isolate that hit its memory limit inside a call held the thread as long.
      { tenantId: 't3', source: bomb },
      { tenantId: 't3', source: PROBE, user: 'bob' },
    ]);
    expect(outcomes.map((o) => o.sync)).toEqual([true, false, true, true, false]);
    expect(outcomes[0]?.logs).toEqual(['spun']);
    expect(observed(outcomes[1])).toEqual(CLEAN);
    expect(observed(outcomes[2])).toEqual(CLEAN);
    expect(outcomes[1]?.isolate).toBe(outcomes[0]?.isolate);
    expect(outcomes[3]?.result).toEqual({ status: 'failed', code: 500, reason: 'memory limit exceeded' });
    expect(observed(outcomes[4])).toEqual(CLEAN);
  });
});
