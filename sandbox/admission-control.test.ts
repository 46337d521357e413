import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from './protocol.ts';
import { SandboxSupervisor, type SandboxHost } from './sandbox-supervisor.ts';
import { compiledDialplan, inviteRequest } from './test-fixtures/dialplan-run-inputs.ts';
import { HoldingHost } from './test-fixtures/holding-host.ts';

/**
 * Admission control on the worker's queue: executions that have to run now count (started, or
 * going on after an answer); those waiting for the calls layer (a Dial ringing) do not. Past the
 * bound a run is refused at once with 503 and a Retry-After, across tenants, and the calls layer
 * can ask before doing any work for a new call.
 */

const request = inviteRequest({ callId: 'admission@test', direction: 'out' });

let supervisor: SandboxSupervisor;
const compiled: Record<string, { js: string; sourceMap: string }> = {};
let counter = 0;

const SOURCES = {
  // Busy in the worker for a while: it stays queued from the moment it is handed over.
  spin: 'const end = Date.now() + 400; while (Date.now() < end) {} sys.Log("spun");',
  dial: 'await sys.Dial("100@local"); sys.Log("dialled");',
  quick: 'sys.Log("quick");',
};

beforeAll(async () => {
  for (const [name, source] of Object.entries(SOURCES)) compiled[name] = await compiledDialplan(source);
  supervisor = new SandboxSupervisor({ maxQueued: 2, retryAfterSeconds: 7, maxConcurrentPerTenant: 10 });
  await supervisor.start();
});
afterAll(async () => {
  await supervisor.stop();
});

function start(kind: keyof typeof SOURCES, host: SandboxHost, tenantId = 'tenant-a'): Promise<RunResult> {
  counter++;
  const { js, sourceMap } = compiled[kind]!;
  return supervisor.run({ tenantId, callId: `adm${counter}`, dialplanName: 'default', js, sourceMap, req: request }, host);
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

const idle: SandboxHost = { call: async () => null };

describe('admission control on the sandbox queue', () => {
  it('refuses a run at once with 503 and Retry-After while the queue is full, whatever the tenant, and admits again when it drains', async () => {
    const first = start('spin', idle, 'tenant-a');
    const second = start('spin', idle, 'tenant-b');
    expect(supervisor.queued).toBe(2);
    expect(supervisor.shedRetryAfter()).toBe(7);
    const shedBefore = supervisor.shed;
    const refused = await start('quick', idle, 'tenant-c');
    expect(refused).toEqual({ status: 'failed', code: 503, reason: 'sandbox overloaded', retryAfter: 7 });
    expect(supervisor.shed).toBe(shedBefore + 1);
    expect(await first).toEqual({ status: 'completed' });
    expect(await second).toEqual({ status: 'completed' });
    expect(supervisor.queued).toBe(0);
    expect(supervisor.shedRetryAfter()).toBeUndefined();
    expect(await start('quick', idle, 'tenant-c')).toEqual({ status: 'completed' });
  });

  it('a run waiting for its Dial leaves the queue, so calls that ring never hold up new ones', async () => {
    const host = new HoldingHost();
    const ringing = [start('dial', host), start('dial', host, 'tenant-b')];
    expect(supervisor.queued).toBe(2);
    await until(() => host.dials === 2);
    expect(supervisor.queued).toBe(0);
    // Two calls ringing, and a third still gets its dialplan run.
    expect(await start('quick', idle, 'tenant-c')).toEqual({ status: 'completed' });
    host.release();
    expect(await Promise.all(ringing)).toEqual([{ status: 'completed' }, { status: 'completed' }]);
    expect(supervisor.queued).toBe(0);
  });
});
