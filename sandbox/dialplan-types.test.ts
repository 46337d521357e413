import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SYS_FUNCTION_NAMES } from './protocol.ts';

/**
 * The published `dialplan.d.ts` is what authors (and the web editor) trust: it must compile, and
 * its `sys` must name exactly the functions the sandbox's allow-list dispatches, so the two can
 * never drift apart again.
 */

const DTS = fileURLToPath(new URL('./dialplan.d.ts', import.meta.url));
/** Read-only values the isolate's setup script defines on `sys` (isolate-setup.ts). */
const SYS_PROPERTIES = ['LastFailureStatus', 'LastFailureReason', 'In', 'Out', 'Username', 'DialPlanName'];

function compile(files: Record<string, string>): string[] {
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, lib: ['lib.es2022.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => files[name] ?? read(name);
  host.fileExists = ((exists) => (name: string) => name in files || exists(name))(host.fileExists.bind(host));
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

function sysMembers(): { methods: string[]; properties: string[] } {
  const source = ts.createSourceFile(DTS, readFileSync(DTS, 'utf8'), ts.ScriptTarget.ES2022, true);
  const sys = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'DialplanSys');
  if (!sys) throw new Error('interface DialplanSys not found in dialplan.d.ts');
  const name = (m: ts.TypeElement): string => (m.name && ts.isIdentifier(m.name) ? m.name.text : '?');
  return {
    methods: sys.members.filter(ts.isMethodSignature).map(name),
    properties: sys.members.filter(ts.isPropertySignature).map(name),
  };
}

describe('sandbox/dialplan.d.ts', () => {
  it('compiles on its own, strict', () => {
    expect(compile({ [DTS]: readFileSync(DTS, 'utf8') })).toEqual([]);
  });

  it('declares exactly the sys functions the sandbox dispatches, and its read-only values', () => {
    const { methods, properties } = sysMembers();
    expect([...methods].sort()).toEqual([...SYS_FUNCTION_NAMES].sort());
    expect([...properties].sort()).toEqual([...SYS_PROPERTIES].sort());
  });

  it('types a transfer dialplan that reads req.transfer', () => {
    const plan = '/virtual/transfer-plan.ts';
    const body = `export {};
if (req.transfer && /^09/.test(req.uri.user)) await sys.Respond(403, "barred " + req.transfer.referrer);
const r = await sys.Dial(req.uri.user + "@local[tr=c]");
const n: number = r.status;
`;
    expect(compile({ [DTS]: readFileSync(DTS, 'utf8'), [plan]: body })).toEqual([]);
  });
});
