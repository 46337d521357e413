/** Public surface of the dialplan sandbox (the calls layer imports only this and protocol.ts). */
export { SandboxSupervisor } from './sandbox-supervisor.ts';
export type { DialplanRunParams, SandboxHost, SandboxLogger, SandboxSupervisorOptions, SandboxExecutionReport } from './sandbox-supervisor.ts';
export { compileDialplan } from './compile.ts';
export { DEFAULT_DIALPLAN_NAME, DEFAULT_DIALPLAN_SOURCE } from './default-dialplan.ts';
export type { CompileError, CompileResult } from './compile.ts';
export { DEFAULT_SANDBOX_LIMITS, SYS_FUNCTION_NAMES, isSysFunctionName } from './protocol.ts';
export type {
  DialResult,
  DialplanRequest,
  NameAddrCopy,
  PlainValue,
  RunDirection,
  RunResult,
  RunUsage,
  SandboxLimits,
  SipUriCopy,
  SysFunctionName,
} from './protocol.ts';
