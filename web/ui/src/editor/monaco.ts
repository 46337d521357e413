import * as monaco from 'monaco-editor';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import TsWorker from 'monaco-editor/language/typescript/ts.worker?worker';
import * as tsGrammar from 'monaco-editor/languages/definitions/typescript/typescript';
import * as jsGrammar from 'monaco-editor/languages/definitions/javascript/javascript';
// The very file the sandbox publishes and the dialplan-types test compiles, read at build time.
import dialplanTypes from '../../../../sandbox/dialplan.d.ts?raw';
// What the isolate's global really holds (no WeakRef, Atomics, timers...), checked by the sandbox.
import { DIALPLAN_LIB } from '../../../../sandbox/dialplan-lib.ts';

/**
 * Monaco set up for dialplans: workers bundled by Vite (never fetched from elsewhere), and the
 * TypeScript service told that a dialplan is the body of an async function with `req` and `sys`.
 */

self.MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    return label === 'typescript' || label === 'javascript' ? new TsWorker() : new EditorWorker();
  },
};

/**
 * Diagnostics that do not apply because the sandbox wraps the source in `async () => { … }`:
 * 1108 `return` outside a function, 1375/1378 top-level `await` in a script, 1431/1432
 * top-level `for await`.
 */
const WRAPPED_BODY_CODES = [1108, 1375, 1378, 1431, 1432];

const compilerOptions: monaco.typescript.CompilerOptions = {
  target: monaco.typescript.ScriptTarget.ES2020,
  // Only the libraries of what exists in the isolate: a removed global is then an error, never a completion.
  lib: [...DIALPLAN_LIB],
  strict: true,
  noEmit: true,
  allowNonTsExtensions: true,
  allowJs: true,
  checkJs: true,
  // No DOM, no Node: beyond ECMAScript, nothing but `req` and `sys` exists in the isolate.
  types: [],
  noLib: false,
};

for (const defaults of [monaco.typescript.typescriptDefaults, monaco.typescript.javascriptDefaults]) {
  defaults.setCompilerOptions(compilerOptions);
  defaults.setDiagnosticsOptions({ noSemanticValidation: false, noSyntaxValidation: false, diagnosticCodesToIgnore: WRAPPED_BODY_CODES });
  defaults.addExtraLib(dialplanTypes, 'file:///patchbay/dialplan.d.ts');
  defaults.setEagerModelSync(true);
}

/**
 * Highlighting-only twins of typescript/javascript for read-only views (the diff editor): all
 * TypeScript models share one global scope, so a second copy of a dialplan in the language
 * service would flag every declaration of the first as a duplicate.
 */
export const VIEW_LANGUAGE = { ts: 'dialplan-ts-view', js: 'dialplan-js-view' } as const;
for (const [id, grammar] of [[VIEW_LANGUAGE.ts, tsGrammar], [VIEW_LANGUAGE.js, jsGrammar]] as const) {
  monaco.languages.register({ id });
  monaco.languages.setLanguageConfiguration(id, grammar.conf);
  monaco.languages.setMonarchTokensProvider(id, grammar.language);
}

export const DIALPLAN_TYPES = dialplanTypes;
export { monaco };
