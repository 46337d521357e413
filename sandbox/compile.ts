import { transform, type Message } from 'esbuild';

/**
 * The user's code becomes the body of an async arrow function so that top-level `await`
 * and `return` work. The prefix sits on the user's first line, so line numbers are
 * unchanged and only columns of line 1 are shifted by its length.
 */
export const DIALPLAN_WRAPPER_PREFIX = '(async () => {';
const WRAPPER_SUFFIX = '\n})';

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

/** Converts a wrapped-source position back to the user's (1-based) coordinates. */
export function unwrapPosition(line: number, column: number): { line: number; column: number } {
  return { line, column: line === 1 ? Math.max(1, column - DIALPLAN_WRAPPER_PREFIX.length) : column };
}

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
    return { ok: true, js: output.code, sourceMap: output.map };
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors;
    if (Array.isArray(messages) && messages.length > 0) {
      return { ok: false, errors: messages.map((message) => toCompileError(message, sourceLines)) };
    }
    return { ok: false, errors: [{ line: 1, column: 1, message: error instanceof Error ? error.message : String(error) }] };
  }
}
