import { describe, expect, it } from 'vitest';
import { compileDialplan } from './compile.ts';
import { enclosingHelpers } from './dialplan-wrapper.ts';
import { SourceMapIndex } from './source-map.ts';

describe('compileDialplan', () => {
  it('strips types and wraps the body in an async function (top-level await and return)', async () => {
    const result = await compileDialplan('type T = { a: number };\nconst t: T = { a: 1 };\nif (t.a) return;\nawait sys.Dial("x@local");\n', 'ts');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.js).not.toContain('type T');
    expect(result.js.startsWith('(async () => {')).toBe(true);
    expect(JSON.parse(result.sourceMap).mappings.length).toBeGreaterThan(0);
  });

  it('compiles plain JavaScript', async () => {
    const result = await compileDialplan('sys.Log("hi")', 'js');
    expect(result.ok).toBe(true);
  });

  it('reports a syntax error with the line and column of the user source', async () => {
    const result = await compileDialplan('const a = 1;\nconst b = ;\n', 'ts');
    expect(result).toEqual({ ok: false, errors: [{ line: 2, column: 11, message: 'Unexpected ";"' }] });
  });

  it('does not shift columns on the first line', async () => {
    const result = await compileDialplan('let x = ;', 'js');
    expect(result).toEqual({ ok: false, errors: [{ line: 1, column: 9, message: 'Unexpected ";"' }] });
  });

  it('refuses import and export statements with their line number', async () => {
    const imported = await compileDialplan('// hello\nimport x from "y";\nx();', 'ts');
    expect(imported.ok).toBe(false);
    if (imported.ok) return;
    expect(imported.errors[0]?.line).toBe(2);
    expect(imported.errors[0]?.message).toMatch(/import\/export statements are not allowed/);
    const exported = await compileDialplan('const a = 1;\n\nexport const b = a;', 'ts');
    expect(exported.ok).toBe(false);
    if (exported.ok) return;
    expect(exported.errors[0]).toMatchObject({ line: 3, message: expect.stringMatching(/not allowed/) });
  });
});

describe('SourceMapIndex', () => {
  it('maps generated positions back to the original lines', async () => {
    const result = await compileDialplan('type A = string;\ntype B = number;\nconst a: A = "x";\nthrow new Error(a);', 'ts');
    if (!result.ok) throw new Error('compile failed');
    const lines = result.js.split('\n');
    const generatedLine = lines.findIndex((line) => line.includes('throw')) + 1;
    const column = (lines[generatedLine - 1] ?? '').indexOf('throw') + 1;
    expect(generatedLine).toBe(3);
    expect(new SourceMapIndex(result.sourceMap).originalPositionFor(generatedLine, column)).toEqual({ line: 4, column: 1 });
  });

  it('returns undefined for lines without mappings', () => {
    expect(new SourceMapIndex('{"version":3,"mappings":"AAAA"}').originalPositionFor(5, 1)).toBeUndefined();
  });
});

describe('compileDialplan refuses a source that escapes its function wrapper', () => {
  it('a source that closes the wrapper and declares at the top level is an error with its line', async () => {
    const result = await compileDialplan('sys.Log("a");\n}); let stash: string[] = []; (async () => {\nsys.Log("b");', 'ts');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors[0]).toMatchObject({ line: 2, message: expect.stringMatching(/closes its own function body/) });
  });

  it('ordinary sources with braces in strings, templates and regexps still compile', async () => {
    const result = await compileDialplan('const s = "})"; const t = `${"}"})`; const r = /\\}\\)/; sys.Log(s + t + r.source);', 'ts');
    expect(result.ok).toBe(true);
  });
});

describe('esbuild helpers of lowered syntax', () => {
  it('are enclosed with the dialplan in one expression, so no top-level var is left; enclosing again changes nothing', async () => {
    const result = await compileDialplan('function tag(t: any) { return t; }\n@tag class A {}\nsys.Log(typeof A);', 'ts');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.js.startsWith('(() => {var ')).toBe(true);
    expect(result.js.trimEnd().endsWith('})();')).toBe(true);
    expect(enclosingHelpers(result.js)).toBe(result.js);
    const plain = await compileDialplan('sys.Log("x");', 'ts');
    expect(plain.ok && plain.js.startsWith('(async () => {')).toBe(true);
  });
});
