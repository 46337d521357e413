/** Patchbay on a real UDP socket with the real dialplan sandbox, shared by the sipp call tests (not part of the module's public surface). */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { compileDialplan, SandboxSupervisor } from '../../sandbox/index.ts';
import { SipStack } from '../sip/index.ts';
import { CallServiceFixture, startSipp, TENANT, type SippRun } from './call-test-support.ts';

/** Fresh per test (see useSippSwitch); the methods are arrow properties so they can be destructured. */
export class SippSwitchHarness extends CallServiceFixture {
  sandbox!: SandboxSupervisor;
  /** `127.0.0.1:<port>` of the switch, for a sipp UAC. */
  target!: string;

  async start(): Promise<void> {
    // CALLS_TRACE=1 prints every datagram: the only way to see why a sipp scenario failed.
    const trace = process.env['CALLS_TRACE'] === '1';
    const logger = pino({ level: trace ? 'debug' : 'silent' });
    const stack = new SipStack({
      listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger,
      onTrace: trace ? (dir, data, remote) => console.log(`--- ${dir} ${remote.address}:${remote.port}\n${data.toString()}`) : undefined,
    });
    await this.serve(stack, this.sandbox, logger);
    this.target = `127.0.0.1:${stack.listening()[0]!.port}`;
  }

  readonly addDialplan = async (name: string, source: string): Promise<void> => {
    const compiled = await compileDialplan(source, 'ts');
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    this.dialplans.plans.set(`${TENANT.id}/${name}`, { js: compiled.js, sourceMap: compiled.sourceMap });
  };

  /** A sipp UAC calling `service` at the switch. */
  readonly uac = (scenario: string, service = 'bob'): Promise<SippRun> => startSipp(scenario, { remote: this.target, service });
}

/** Every sipp run exited 0 (its output is the failure message). */
export async function expectOk(...runs: SippRun[]): Promise<void> {
  const results = await Promise.all(runs.map((r) => r.done));
  for (const r of results) expect(r.code, r.output).toBe(0);
}

/** Registers the hooks: one sandbox for the file, a fresh switch per test; read its fields inside tests only. */
export function useSippSwitch(): SippSwitchHarness {
  const h = new SippSwitchHarness();
  beforeAll(async () => {
    h.sandbox = new SandboxSupervisor();
    await h.sandbox.start();
  });
  afterAll(async () => {
    await (h.sandbox as unknown as { stop?: () => Promise<void> }).stop?.();
  });
  beforeEach(() => h.start());
  afterEach(() => h.stop());
  return h;
}
