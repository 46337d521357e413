import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileDialplan } from './compile.ts';
import { DIALPLAN_LIB } from './dialplan-lib.ts';
import { REMOVED_GLOBALS } from './isolate-setup.ts';
import type { DialplanRequest } from './protocol.ts';
import { SandboxSupervisor, type SandboxHost } from './sandbox-supervisor.ts';

/**
 * The editor's standard library must declare only what a dialplan's global really has, so
 * completion never offers a name that throws a ReferenceError at run time.
 */

const request: DialplanRequest = {
  method: 'INVITE',
  uri: { user: '1002', host: 'acme.example', params: {}, raw: 'sip:1002@acme.example' },
  from: { uri: { user: '1001', host: 'acme.example', params: {}, raw: 'sip:1001@acme.example' }, tag: 'f1' },
  to: { uri: { user: '1002', host: 'acme.example', params: {}, raw: 'sip:1002@acme.example' } },
  callId: 'lib-check@test',
  headers: {},
  body: '',
  source: { address: '127.0.0.1', port: 5062, transport: 'udp' },
  account: { username: '1001', domain: 'acme.example' },
  direction: 'out',
};

/** Every global value name the libraries declare (what completion offers at top level). */
function declaredGlobals(): string[] {
  const file = '/virtual/plan.ts';
  const options: ts.CompilerOptions = { noEmit: true, target: ts.ScriptTarget.ES2020, lib: DIALPLAN_LIB.map((l) => `lib.${l}.d.ts`), types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? 'export {};\n' : read(name));
  host.fileExists = ((exists) => (name: string) => name === file || exists(name))(host.fileExists.bind(host));
  const program = ts.createProgram([file], options, host);
  expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  const source = program.getSourceFile(file)!;
  return program.getTypeChecker().getSymbolsInScope(source, ts.SymbolFlags.Value).map((s) => s.name).filter((n) => n !== 'globalThis' && n !== 'undefined');
}

let supervisor: SandboxSupervisor;

beforeAll(async () => {
  supervisor = new SandboxSupervisor({ restartBackoff: { initialMs: 20, maxMs: 200 } });
  await supervisor.start();
});

afterAll(async () => {
  await supervisor.stop();
});

describe('DIALPLAN_LIB', () => {
  it('declares exactly the globals a dialplan can use, and none the sandbox removes', async () => {
    const compiled = await compileDialplan('sys.Log(JSON.stringify(Object.getOwnPropertyNames(globalThis)));', 'ts');
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const logs: string[] = [];
    const host: SandboxHost = {
      async call(name, args) {
        if (name === 'Log') logs.push(String(args[0]));
        return null;
      },
    };
    const result = await supervisor.run({ tenantId: 'lib-check', callId: 'lib-check', dialplanName: 'default', js: compiled.js, sourceMap: compiled.sourceMap, req: request }, host);
    expect(result).toEqual({ status: 'completed' });
    const present = new Set<string>(JSON.parse(logs[0]!));
    const declared = declaredGlobals();
    for (const removed of REMOVED_GLOBALS) expect(present.has(removed)).toBe(false);
    // Declared but missing would be offered by completion and fail at run time.
    expect(declared.filter((name) => !present.has(name))).toEqual([]);
    // Present but undeclared: req/sys come from dialplan.d.ts; console prints nowhere; and the
    // ES2024+ globals a newer V8 (Node 24's isolated-vm) adds, left out so that completion
    // offers only what every supported runtime has. Anything else would be a gap in the lib.
    const undeclaredOk = new Set(['console', 'req', 'sys', 'Iterator', 'Float16Array', 'DisposableStack', 'AsyncDisposableStack', 'SuppressedError']);
    const undeclared = [...present].filter((name) => !declared.includes(name) && name !== 'globalThis' && name !== 'undefined');
    expect(undeclared.filter((name) => !undeclaredOk.has(name))).toEqual([]);
    expect(undeclared).toEqual(expect.arrayContaining(['req', 'sys']));
  });
});
