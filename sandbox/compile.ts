import { transform, type Message } from 'esbuild';
import { DIALPLAN_WRAPPER_PREFIX, WRAPPER_SUFFIX, enclosingHelpers, unwrapPosition } from './dialplan-wrapper.ts';

/** Name given to the original source in the source map and to the stored JS in stack traces. */
export const DIALPLAN_SOURCE_FILE = 'dialplan.ts';

export interface CompileError {
  /** 1-based line of the user's source */
  line: number;
  /** 1-based column of the user's source */
  column: number;
  message: string;
}

export type CompileResult =
  | { ok: true; js: string; sourceMap: string }
  | { ok: false; errors: CompileError[] };

const MODULE_STATEMENT = /^\s*(import(?!\s*[(.])|export)\b/;

function toCompileError(message: Message, sourceLines: string[]): CompileError {
  const location = message.location;
  const position = location ? unwrapPosition(location.line, location.column + 1) : { line: 1, column: 1 };
  const lineText = sourceLines[position.line - 1] ?? '';
  const text = MODULE_STATEMENT.test(lineText)
    ? 'import/export statements are not allowed in a dialplan (use the globals req and sys)'
    : message.text;
  return { line: position.line, column: position.column, message: text };
}

/**
 * A source that parses inside our arrow wrapper but not inside a plain function body closes the
 * wrapper itself (`}); let stash = []; (async () => {`): its statements would run outside any
 * function, at the top of the sandbox context, where a `let` outlives the run. The sandbox reuses
 * one context for the runs of a tenant, so such a source is refused here, when it is saved.
 */
async function wrapperEscape(source: string, language: 'ts' | 'js'): Promise<CompileError | undefined> {
  try {
    await transform(`async function dialplan() {${source}\n}`, { loader: language, logLevel: 'silent' });
    return undefined;
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors;
    const location = Array.isArray(messages) ? messages[0]?.location : undefined;
    const line = location?.line ?? 1;
    // The probe's prefix is longer than the real one; columns of line 1 are shifted by it.
    const column = location ? (line === 1 ? Math.max(1, location.column + 1 - 'async function dialplan() {'.length) : location.column + 1) : 1;
    return { line, column, message: 'the dialplan closes its own function body (unbalanced "}")' };
  }
}

/**
 * Transforms a dialplan (TS or JS) into the JS the sandbox runs: a script whose completion
 * value is an async function. Run when a dialplan is saved; the JS and source map are stored.
 */
export async function compileDialplan(source: string, language: 'ts' | 'js'): Promise<CompileResult> {
  const sourceLines = source.split(/\r?\n/);
  try {
    const output = await transform(DIALPLAN_WRAPPER_PREFIX + source + WRAPPER_SUFFIX, {
      loader: language,
      sourcemap: 'external',
      sourcesContent: false,
      sourcefile: DIALPLAN_SOURCE_FILE,
      target: 'es2022',
      logLevel: 'silent',
    });
    const escape = await wrapperEscape(source, language);
    if (escape) return { ok: false, errors: [escape] };
    return { ok: true, js: enclosingHelpers(output.code), sourceMap: output.map };
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors;
    if (Array.isArray(messages) && messages.length > 0) {
      return { ok: false, errors: messages.map((message) => toCompileError(message, sourceLines)) };
    }
    return { ok: false, errors: [{ line: 1, column: 1, message: error instanceof Error ? error.message : String(error) }] };
  }
}
