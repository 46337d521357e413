// The dialplan's wrapper, apart from the compiler: the worker needs these, not esbuild.

/**
 * The user's code becomes the body of an async arrow function so that top-level `await`
 * and `return` work. The prefix sits on the user's first line, so line numbers are
 * unchanged and only columns of line 1 are shifted by its length.
 */
export const DIALPLAN_WRAPPER_PREFIX = '(async () => {';
export const WRAPPER_SUFFIX = '\n})';

/** Converts a wrapped-source position back to the user's (1-based) coordinates. */
export function unwrapPosition(line: number, column: number): { line: number; column: number } {
  return { line, column: line === 1 ? Math.max(1, column - DIALPLAN_WRAPPER_PREFIX.length) : column };
}

/**
 * What esbuild lowers for target es2022 (decorators, \`using\`, ...) comes with helpers it prints
 * as top-level \`var\`s before our wrapper: in the sandbox's reused context those would become
 * undeletable globals (and retire the isolate after every run). They are enclosed in a function
 * that returns the dialplan's function, so the script's value stays that function. Only line 1
 * (helpers) and the wrapper's own line change, and only in their columns, so the source map
 * still holds for the user's code. The worker applies it again to stored JS compiled before this
 * (idempotent: enclosed JS no longer has the wrapper at the start of a line).
 */
export function enclosingHelpers(js: string): string {
  if (js.startsWith(DIALPLAN_WRAPPER_PREFIX)) return js;
  // The first line that starts with the wrapper is ours: helpers never contain it, and the
  // user's code all comes after it.
  const at = js.indexOf(`\n${DIALPLAN_WRAPPER_PREFIX}`);
  if (at < 0) return js;
  return `(() => {${js.slice(0, at + 1)}return ${js.slice(at + 1).trimEnd()}\n})();\n`;
}
