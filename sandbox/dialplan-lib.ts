/**
 * The TypeScript standard libraries that describe a dialplan's global object, for the web
 * editor (Monaco's `lib`) and anyone type-checking dialplans: ECMAScript up to ES2023 as V8
 * ships it in the isolate, without the parts the isolate's setup removes (isolate-setup.ts:
 * SharedArrayBuffer and Atomics in the `sharedmemory` libs, WeakRef and FinalizationRegistry in
 * `es2021.weakref`). No DOM, no Node, no timers, no WebAssembly: none exists in the isolate.
 * V8's `console` exists but prints nowhere, so it is not declared either: `sys.Log` is the log.
 * dialplan-lib.test.ts checks every global these declare against a real sandbox run.
 * This file imports nothing so that the browser app can import it.
 */
export const DIALPLAN_LIB: readonly string[] = [
  'es5',
  'es2015.core', 'es2015.collection', 'es2015.generator', 'es2015.iterable', 'es2015.promise',
  'es2015.proxy', 'es2015.reflect', 'es2015.symbol', 'es2015.symbol.wellknown',
  'es2016.array.include', 'es2016.intl',
  'es2017.arraybuffer', 'es2017.date', 'es2017.intl', 'es2017.object', 'es2017.string', 'es2017.typedarrays',
  'es2018.asyncgenerator', 'es2018.asynciterable', 'es2018.intl', 'es2018.promise', 'es2018.regexp',
  'es2019.array', 'es2019.intl', 'es2019.object', 'es2019.string', 'es2019.symbol',
  'es2020.bigint', 'es2020.date', 'es2020.intl', 'es2020.number', 'es2020.promise', 'es2020.string', 'es2020.symbol.wellknown',
  'es2021.intl', 'es2021.promise', 'es2021.string',
  'es2022.array', 'es2022.error', 'es2022.intl', 'es2022.object', 'es2022.regexp', 'es2022.string',
  'es2023.array', 'es2023.collection', 'es2023.intl',
];
