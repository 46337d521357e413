import { SYS_FUNCTION_NAMES } from './protocol.ts';

/** Seq 0 marks a message that expects no answer. */
export const NOTIFY_SEQ = 0;
/** Internal dispatch names the setup script uses to report the end of the dialplan. */
export const DONE_NAME = '__done';
export const ERROR_NAME = '__error';

/**
 * The body of the setup function (see ISOLATE_SETUP_FUNCTION), with
 *   $0 = the one host dispatch function (sync ivm.Callback: (seq, name, argsJson) => void),
 *   $1 = a copy of { req, dialPlanName, username, direction, logLimits } (one copy, one call).
 * It defines the globals `req` and a frozen `sys`, and returns { settle, start } to the
 * worker. The dispatch function and the pending-call table live only in this closure,
 * so user code can never reach them. Intrinsics are captured first so a dialplan that
 * patches JSON or Promise only breaks itself. Only strings and numbers cross the
 * boundary; results are re-created here, and host errors become plain Errors carrying
 * nothing but the message.
 */
export const ISOLATE_SETUP_SCRIPT = `
const dispatch = $0;
const info = $1;
const jsonParse = JSON.parse;
const jsonStringify = JSON.stringify;
const PromiseCtor = Promise;
const ErrorCtor = Error;
const StringCtor = String;
const freeze = Object.freeze;
const defineProperty = Object.defineProperty;
const reflectApply = Reflect.apply;
const promiseThen = Promise.prototype.then;
const pending = Object.create(null);
let nextSeq = 1;
let lastFailureStatus = 0;
let lastFailureReason = '';
const logLimits = info.logLimits;
let logLines = 0;
let logBytes = 0;
let logCut = false;

delete globalThis.SharedArrayBuffer;
delete globalThis.Atomics;

function encodeArgs(name, args) {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  let json;
  try { json = jsonStringify(args.slice(0, end)); } catch (e) { json = undefined; }
  if (typeof json !== 'string') throw new ErrorCtor('sys.' + name + ': arguments must be plain JSON values');
  return json;
}

function request(name, args) {
  const json = encodeArgs(name, args);
  return new PromiseCtor((resolve) => {
    const seq = nextSeq++;
    pending[seq] = resolve;
    dispatch(seq, name, json);
  });
}

async function invoke(name, args) {
  const reply = await request(name, args);
  if (typeof reply.error === 'string') throw new ErrorCtor(reply.error);
  return reply.value;
}

function settle(seq, json) {
  const resolve = pending[seq];
  if (resolve === undefined) return;
  delete pending[seq];
  resolve(jsonParse(json));
}

const sys = {};
for (const name of ${JSON.stringify(SYS_FUNCTION_NAMES)}) {
  sys[name] = (...args) => invoke(name, args);
}
sys.Dial = async (dialString, options) => {
  const result = await invoke('Dial', [dialString, options]);
  if (result !== null && typeof result === 'object') {
    lastFailureStatus = result.answered ? 0 : Number(result.status) || 0;
    lastFailureReason = result.answered ? '' : StringCtor(result.reason ?? '');
  }
  return result;
};
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
function emitLog(text) {
  dispatch(${NOTIFY_SEQ}, 'Log', jsonStringify([text]));
}
function cutLog() {
  logCut = true;
  emitLog(logLimits.limitLine);
}
sys.Log = (...parts) => {
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
defineProperty(sys, 'LastFailureStatus', { get: () => lastFailureStatus, enumerable: true });
defineProperty(sys, 'LastFailureReason', { get: () => lastFailureReason, enumerable: true });
sys.In = info.direction === 'in';
sys.Out = info.direction === 'out';
sys.Username = info.username;
sys.DialPlanName = info.dialPlanName;
for (const name in sys) { if (typeof sys[name] === 'function') freeze(sys[name]); }
freeze(sys);
defineProperty(globalThis, 'sys', { value: sys, writable: false, enumerable: false, configurable: false });
defineProperty(globalThis, 'req', { value: info.req, writable: true, enumerable: false, configurable: false });

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

function start(dialplan) {
  if (typeof dialplan !== 'function') {
    dispatch(${NOTIFY_SEQ}, '${ERROR_NAME}', jsonStringify({ message: 'stored dialplan is not compiled dialplan code', stack: '' }));
    return;
  }
  let completion;
  try {
    completion = dialplan();
  } catch (error) {
    dispatch(${NOTIFY_SEQ}, '${ERROR_NAME}', describe(error));
    return;
  }
  reflectApply(promiseThen, completion, [
    () => dispatch(${NOTIFY_SEQ}, '${DONE_NAME}', '[]'),
    (error) => dispatch(${NOTIFY_SEQ}, '${ERROR_NAME}', describe(error)),
  ]);
}

return { settle, start };
`;

/**
 * The setup as one function expression: compiled once per isolate (from V8 code cache made of
 * this, our own, text only) and run in each fresh context, where it is called with the two
 * arguments above. The dispatch function, `req` and the pending-call table belong to that
 * context alone.
 */
export const ISOLATE_SETUP_FUNCTION = `(function ($0, $1) {${ISOLATE_SETUP_SCRIPT}})`;
