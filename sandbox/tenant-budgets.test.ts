import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDirection, RunResult } from './protocol.ts';
import { SandboxSupervisor, type SandboxHost } from './sandbox-supervisor.ts';
import { compiledDialplan, inviteRequest } from './test-fixtures/dialplan-run-inputs.ts';
import { HoldingHost } from './test-fixtures/holding-host.ts';

const request = inviteRequest({ callId: 'budget@test', direction: 'in' });

let supervisor: SandboxSupervisor;
let js = '';
let sourceMap = '';
let counter = 0;

beforeAll(async () => {
  ({ js, sourceMap } = await compiledDialplan('await sys.Dial("100@local");'));
  supervisor = new SandboxSupervisor({ maxConcurrentPerTenant: 3, maxInboundPerSource: 2 });
  await supervisor.start();
});
afterAll(async () => {
  await supervisor.stop();
});

function start(host: SandboxHost, tenantId: string, direction?: RunDirection, source?: string): Promise<RunResult> {
  counter++;
  return supervisor.run(
    {
      tenantId, callId: `b${counter}`, dialplanName: 'default', js, sourceMap, req: request,
      ...(direction && { direction }), ...(source && { source }),
    },
    host,
  );
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('per-tenant budgets, inbound and outbound apart', () => {
  it('a tenant whose outbound budget is full still runs inbound dialplans, and the other way round', async () => {
    const host = new HoldingHost();
    const outbound = [1, 2, 3].map(() => start(host, 'ta', 'out'));
    await until(() => host.dials === 3);
    expect(await start(host, 'ta', 'out')).toEqual({ status: 'failed', code: 503, reason: 'too many concurrent outbound dialplans' });
    // Missing direction is outbound: the same full budget.
    expect(await start(host, 'ta')).toMatchObject({ code: 503, reason: 'too many concurrent outbound dialplans' });

    const inbound = [1, 2, 3].map((i) => start(host, 'ta', 'in', `198.51.100.${i}`));
    await until(() => host.dials === 6);
    expect(supervisor.runningFor('ta', 'in')).toBe(3);
    expect(supervisor.runningFor('ta', 'out')).toBe(3);
    expect(supervisor.runningFor('ta')).toBe(6);
    expect(await start(host, 'ta', 'in', '198.51.100.9')).toEqual({ status: 'failed', code: 503, reason: 'too many concurrent inbound dialplans' });

    host.release();
    for (const result of await Promise.all([...outbound, ...inbound])) expect(result).toEqual({ status: 'completed' });
    expect(supervisor.runningFor('ta')).toBe(0);
  });

  it('caps inbound runs per source address, across tenants; other sources and outbound are not affected', async () => {
    const host = new HoldingHost();
    const flood = [start(host, 'tb', 'in', '203.0.113.66'), start(host, 'tc', 'in', '203.0.113.66')];
    await until(() => host.dials === 2);
    expect(supervisor.runningFromSource('203.0.113.66')).toBe(2);
    expect(await start(host, 'tb', 'in', '203.0.113.66')).toEqual({
      status: 'failed', code: 503, reason: 'too many concurrent inbound dialplans from this source',
    });
    expect(await start(host, 'td', 'in', '203.0.113.66')).toMatchObject({ code: 503 });

    const others = [start(host, 'tb', 'in', '203.0.113.1'), start(host, 'tb', 'out', '203.0.113.66'), start(host, 'tb', 'in')];
    await until(() => host.dials === 5);

    host.release();
    for (const result of await Promise.all([...flood, ...others])) expect(result).toEqual({ status: 'completed' });
    expect(supervisor.runningFromSource('203.0.113.66')).toBe(0);
    const again = start(host, 'tb', 'in', '203.0.113.66');
    await until(() => host.dials === 6);
    host.release();
    expect(await again).toEqual({ status: 'completed' });
  });

  it('refuses a direction that is neither in nor out with a clear error', async () => {
    const result = await supervisor.run(
      { tenantId: 'te', callId: 'bad', dialplanName: 'default', js, sourceMap, req: request, direction: 'sideways' as RunDirection },
      new HoldingHost(),
    );
    expect(result).toEqual({ status: 'failed', code: 500, reason: 'invalid run request: direction must be "in" or "out", got "sideways"' });
  });
});
