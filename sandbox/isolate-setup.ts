import { SYS_FUNCTION_NAMES } from './protocol.ts';

/** Seq 0 marks a message that expects no answer. */
export const NOTIFY_SEQ = 0;
/** Internal dispatch names the setup script uses to report the end of the dialplan. */
export const DONE_NAME = '__done';
export const ERROR_NAME = '__error';

/** What `begin` answers: the run started, or the context kept state it cannot drop. */
export const BEGIN_STARTED = 0;
export const BEGIN_DIRTY = 1;

/**
 * Globals removed before anything else runs. SharedArrayBuffer and Atomics give shared memory
 * and timers; WeakRef, FinalizationRegistry and WebAssembly's async compilation make code run
 * later, outside the call that started it — in a context reused across runs that could be
 * during the next run, where it would see that run's `req` and act through its `sys`.
 */
export const REMOVED_GLOBALS = ['SharedArrayBuffer', 'Atomics', 'WeakRef', 'FinalizationRegistry', 'WebAssembly'];

/**
 * RegExp's legacy static properties (RegExp.$1, RegExp.input, ...) hold the last match made in
 * the context: in a reused context, a number or name of the previous call.
 */
const REGEXP_LEGACY_STATICS = ['input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$`', 'rightContext', "$'"]
  .concat(Array.from({ length: 9 }, (_, i) => `$${i + 1}`));

/**
 * Inherited properties that ordinary code assigns on its own objects (`obj.toString = …`,
 * `this.name = 'MyError'` in an Error subclass, `F.prototype.constructor = F`). On a frozen
 * prototype such an assignment would fail ("override mistake"), so these become accessors whose
 * setter defines the property on the object assigned to, as SES's `enablePropertyOverrides`
 * does; an assignment to the prototype itself is ignored like any write to a frozen property.
 * `*` = every data property of that object.
 */
const OVERRIDABLE = `[
  [Object.prototype, '*'],
  [Array.prototype, ['constructor', 'toString']],
  [Function.prototype, ['constructor', 'toString', 'bind']],
  [Error.prototype, ['constructor', 'message', 'name', 'toString']],
  ...[EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError]
    .map((E) => [E.prototype, ['constructor', 'message', 'name']]),
  ...[Promise, Date, RegExp, Map, Set, WeakMap, WeakSet, Number, String, Boolean, Symbol, BigInt]
    .map((C) => [C.prototype, ['constructor', 'toString']]),
]`;

/**
 * A run's `sys`, as the source of one object literal in makeRun (whose closures it names): every
 * sys function in SYS_FUNCTION_NAMES' order, then the read-only facts of the run. Each function
 * is frozen as it is made.
 */
const SYS_OBJECT_LITERAL = `{
${SYS_FUNCTION_NAMES.map((name) => {
  const fn = name === 'Dial' ? 'dial' : name === 'Log' ? 'log' : `(...args) => invoke('${name}', args)`;
  return `    ${name}: freeze(${fn}),`;
}).join('\n')}
    get LastFailureStatus() { return lastFailureStatus; },
    get LastFailureReason() { return lastFailureReason; },
    In: info.direction === 'in',
    Out: info.direction === 'out',
    Username: info.username,
    DialPlanName: info.dialPlanName,
  }`;

/**
 * The body of the setup function (see ISOLATE_SETUP_FUNCTION), with
 *   $0, $1 = the host dispatch function, (runId, seq, name, argsJson) => void, as two ivm.Callbacks:
 *   fire-and-forget (queued for the worker's thread) and inline (run at once, inside the call).
 *   Each call into the context says which its dispatches use: inline when the worker made the
 *   call on its own thread (segment-mode.ts), queued when an isolate thread made it, which must
 *   not wait for the worker's thread. Inline keeps a call's dispatches ahead of its outcome: a
 *   queued Log made just before a loop was still waiting when the timeout ended the call, and
 *   was dropped with the run.
 * It runs once per context, before any user code, and hardens the context so that one context
 * serves every run of the isolate (all of one tenant) without a run leaving state for the next:
 * - every intrinsic reachable from the global object (and the hidden ones: generator and async
 *   function prototypes, iterator prototypes, the global's own prototype) is frozen, after the
 *   override accessors above; the global's own standard properties become read-only;
 * - the global object itself stays extensible (sloppy `x = 1` keeps working), and `reset`
 *   deletes whatever a run added to it and puts back its prototype; a global that cannot be
 *   put back (a non-configurable property, a non-extensible global) makes `begin` answer
 *   "dirty" and the host disposes the isolate (a run's leftovers stay, unreachable, until then);
 * - `req` and `sys` are accessors onto the current run: each run gets its own frozen `sys`, its
 *   own pending-call table and log budget, and a run id the host checks on every dispatch, so a
 *   function kept from an earlier run can only talk as that finished run, which the host ignores.
 * The dispatch function and the run table live only in this closure, so user code can never
 * reach them (strict mode: \`f.caller\` never leads from user code back to one of these functions). Intrinsics are captured first; only strings and numbers cross the boundary;
 * results are re-created here, and host errors become plain Errors carrying only the message.
 */
export const ISOLATE_SETUP_SCRIPT = `
'use strict';
const dispatchQueued = $0;
const dispatchInline = $1;
let inline = false;
function dispatch(id, seq, name, json) {
  if (inline) dispatchInline(id, seq, name, json);
  else dispatchQueued(id, seq, name, json);
}
const jsonParse = JSON.parse;
const jsonStringify = JSON.stringify;
const PromiseCtor = Promise;
const ErrorCtor = Error;
const StringCtor = String;
const SetCtor = Set;
const freeze = Object.freeze;
const isFrozen = Object.isFrozen;
const defineProperty = Object.defineProperty;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const getPrototypeOf = Object.getPrototypeOf;
const reflectApply = Reflect.apply;
const reflectOwnKeys = Reflect.ownKeys;
const reflectDeleteProperty = Reflect.deleteProperty;
const reflectDefineProperty = Reflect.defineProperty;
const reflectSetPrototypeOf = Reflect.setPrototypeOf;
const isExtensible = Reflect.isExtensible;
const promiseThen = Promise.prototype.then;
const setHas = Set.prototype.has;
const setAdd = Set.prototype.add;
const arrayPush = Array.prototype.push;
const arrayPop = Array.prototype.pop;
const global = globalThis;

for (const name of ${JSON.stringify(REMOVED_GLOBALS)}) delete global[name];
for (const name of ${JSON.stringify(REGEXP_LEGACY_STATICS)}) delete RegExp[name];

function enableOverride(object, name) {
  const desc = getOwnPropertyDescriptor(object, name);
  if (!desc || !('value' in desc) || !desc.configurable) return;
  const value = desc.value;
  defineProperty(object, name, {
    get() { return value; },
    set(newValue) {
      if (this === object || this === null || (typeof this !== 'object' && typeof this !== 'function')) return;
      reflectDefineProperty(this, name, { value: newValue, writable: true, enumerable: true, configurable: true });
    },
    enumerable: desc.enumerable,
    configurable: false,
  });
}
for (const [object, names] of ${OVERRIDABLE}) {
  for (const name of names === '*' ? reflectOwnKeys(object) : names) enableOverride(object, name);
}

// Samples of the intrinsics no global names: their prototypes are reached by the walk below.
const hiddenRoots = [
  async function () {}, function* () {}, async function* () {}, (function* () {})(), (async function* () {})(),
  [][Symbol.iterator](), ''[Symbol.iterator](), new Map()[Symbol.iterator](), new Set()[Symbol.iterator](),
  /a/[Symbol.matchAll]('a'), getPrototypeOf(global),
];
if (typeof Intl === 'object' && typeof Intl.Segmenter === 'function') {
  const segments = new Intl.Segmenter().segment('');
  hiddenRoots.push(segments, segments[Symbol.iterator]());
}
if (typeof Iterator === 'function') {
  try { hiddenRoots.push(Iterator.prototype.map.call([].values(), (x) => x), Iterator.from({ next() { return { done: true }; } })); } catch (e) {}
}

function harden(roots) {
  const seen = new SetCtor([global]);
  const stack = [];
  const visit = (value) => {
    if ((typeof value === 'object' && value !== null) || typeof value === 'function') reflectApply(arrayPush, stack, [value]);
  };
  for (const root of roots) visit(root);
  while (stack.length > 0) {
    const object = reflectApply(arrayPop, stack, []);
    if (reflectApply(setHas, seen, [object])) continue;
    reflectApply(setAdd, seen, [object]);
    freeze(object);
    visit(getPrototypeOf(object));
    for (const key of reflectOwnKeys(object)) {
      const desc = getOwnPropertyDescriptor(object, key);
      if ('value' in desc) visit(desc.value);
      else { visit(desc.get); visit(desc.set); }
    }
  }
}

const globalRoots = [];
for (const key of reflectOwnKeys(global)) {
  const desc = getOwnPropertyDescriptor(global, key);
  if ('value' in desc) {
    reflectApply(arrayPush, globalRoots, [desc.value]);
    if (desc.configurable) defineProperty(global, key, { value: desc.value, writable: false, enumerable: desc.enumerable, configurable: false });
  }
}
for (const root of hiddenRoots) reflectApply(arrayPush, globalRoots, [root]);
harden(globalRoots);

// ---- the run in progress: req and sys lead to it ----
let current = { id: 0, req: undefined, sys: undefined };
defineProperty(global, 'sys', { get: freeze(() => current.sys), enumerable: false, configurable: false });
defineProperty(global, 'req', {
  get: freeze(() => current.req),
  set: freeze((value) => { current.req = value; }),
  enumerable: false,
  configurable: false,
});

const globalProto = getPrototypeOf(global);
const baselineKeys = new SetCtor(reflectOwnKeys(global));
const baselineCount = baselineKeys.size;

/** Deletes what runs added to the global and restores its prototype; false if it cannot. */
function reset() {
  if (!isExtensible(global)) return false;
  if (getPrototypeOf(global) !== globalProto && !reflectSetPrototypeOf(global, globalProto)) return false;
  const keys = reflectOwnKeys(global);
  if (keys.length === baselineCount) return true;
  for (const key of keys) {
    if (!reflectApply(setHas, baselineKeys, [key]) && !reflectDeleteProperty(global, key)) return false;
  }
  return true;
}

function encodeArgs(name, args) {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  let json;
  try { json = jsonStringify(args.slice(0, end)); } catch (e) { json = undefined; }
  if (typeof json !== 'string') throw new ErrorCtor('sys.' + name + ': arguments must be plain JSON values');
  return json;
}

// The log budget is spent here, inside the isolate, so a dialplan logging in a loop costs the
// worker, the IPC channel and the tenant's console nothing beyond it.
function utf8Width(code) {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdbff ? 4 : 3;
}
function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const width = utf8Width(text.charCodeAt(i));
    bytes += width;
    if (width === 4) i++;
  }
  return bytes;
}
function cutToBytes(text, max) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const width = utf8Width(text.charCodeAt(i));
    if (bytes + width > max) return text.slice(0, i);
    bytes += width;
    if (width === 4) i++;
  }
  return text;
}

/** One run's own state and its own frozen sys. */
function makeRun(id, info) {
  const run = { id, req: info.req, sys: undefined, pending: { __proto__: null } };
  let nextSeq = 1;
  let lastFailureStatus = 0;
  let lastFailureReason = '';
  const logLimits = info.logLimits;
  let logLines = 0;
  let logBytes = 0;
  let logCut = false;

  const request = (name, args) => {
    const json = encodeArgs(name, args);
    return new PromiseCtor((resolve) => {
      const seq = nextSeq++;
      run.pending[seq] = resolve;
      dispatch(id, seq, name, json);
    });
  };
  const invoke = async (name, args) => {
    const reply = await request(name, args);
    if (typeof reply.error === 'string') throw new ErrorCtor(reply.error);
    return reply.value;
  };
  const emitLog = (text) => dispatch(id, ${NOTIFY_SEQ}, 'Log', jsonStringify([text]));
  const cutLog = () => {
    logCut = true;
    emitLog(logLimits.limitLine);
  };

  const dial = async (dialString, options) => {
    const result = await invoke('Dial', [dialString, options]);
    if (result !== null && typeof result === 'object') {
      lastFailureStatus = result.answered ? 0 : Number(result.status) || 0;
      lastFailureReason = result.answered ? '' : StringCtor(result.reason ?? '');
    }
    return result;
  };
  const log = (...parts) => {
    if (logCut) return;
    const text = parts.map((part) => StringCtor(part)).join(' ');
    if (logLines >= logLimits.lines) {
      cutLog();
      return;
    }
    const bytes = utf8Length(text);
    if (logBytes + bytes > logLimits.bytes) {
      const head = cutToBytes(text, logLimits.bytes - logBytes);
      if (head.length > 0) emitLog(head);
      cutLog();
      return;
    }
    logLines++;
    logBytes += bytes;
    emitLog(text);
  };
  // One literal of a fixed shape (SYS_OBJECT_LITERAL) rather than a property at a time: built on
  // every run, it was a sixth of a short run's time in the isolate.
  const sys = ${SYS_OBJECT_LITERAL};
  run.sys = freeze(sys);
  return run;
}

function describe(error) {
  let message;
  let stack = '';
  try {
    message = error instanceof ErrorCtor ? StringCtor(error.message) : StringCtor(error);
    if (error instanceof ErrorCtor && typeof error.stack === 'string') stack = error.stack;
  } catch (e) {
    message = 'dialplan threw a value that cannot be shown';
  }
  return jsonStringify({ message, stack });
}

/** Starts run \`id\` of \`dialplan\` (the compiled dialplan's function) with the JSON run data. */
function begin(id, dataJson, dialplan, inlineDispatch) {
  inline = inlineDispatch === true;
  if (!reset()) return ${BEGIN_DIRTY};
  current = makeRun(id, jsonParse(dataJson));
  if (typeof dialplan !== 'function') {
    dispatch(id, ${NOTIFY_SEQ}, '${ERROR_NAME}', jsonStringify({ message: 'stored dialplan is not compiled dialplan code', stack: '' }));
    return ${BEGIN_STARTED};
  }
  // The dialplan's function object outlives the run (one per compiled dialplan per context).
  if (!isFrozen(dialplan)) freeze(dialplan);
  let completion;
  try {
    completion = dialplan();
  } catch (error) {
    dispatch(id, ${NOTIFY_SEQ}, '${ERROR_NAME}', describe(error));
    return ${BEGIN_STARTED};
  }
  reflectApply(promiseThen, completion, [
    // The global is put back by the next run's \`begin\`, before any of its code, and only there:
    // code the run left behind may still add to it after this, and no code runs in the context
    // between two runs (it has no timers). One reset per run: listing the global's keys is most
    // of what a short run costs inside the isolate.
    () => dispatch(id, ${NOTIFY_SEQ}, '${DONE_NAME}', '[]'),
    (error) => dispatch(id, ${NOTIFY_SEQ}, '${ERROR_NAME}', describe(error)),
  ]);
  return ${BEGIN_STARTED};
}

/** Answers pending sys call \`seq\` of run \`id\`; an earlier run's answer reaches nothing. */
function settle(id, seq, json, inlineDispatch) {
  inline = inlineDispatch === true;
  if (current.id !== id) return;
  const resolve = current.pending[seq];
  if (resolve === undefined) return;
  delete current.pending[seq];
  resolve(jsonParse(json));
}

return { begin, settle };
`;

/**
 * The setup as one function expression: compiled once per isolate (from V8 code cache made of
 * this, our own, text only) and run once in the isolate's one context, where it is called with
 * the dispatch function. The dispatch function and the run table belong to that context alone.
 */
export const ISOLATE_SETUP_FUNCTION = `(function ($0, $1) {${ISOLATE_SETUP_SCRIPT}})`;
