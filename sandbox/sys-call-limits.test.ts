import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './protocol.ts';
import { SandboxSupervisor, type SandboxHost } from './sandbox-supervisor.ts';
import { logLimitLine, SysCallBudget } from './sys-call-budget.ts';
import { unbatch } from './ipc-outbox.ts';
import { compiledDialplan, inviteRequest } from './test-fixtures/dialplan-run-inputs.ts';

const request = inviteRequest({ callId: 'limits@test', direction: 'out' });

/** Counts sys calls by name; WebGet may be held open to test concurrency. */
class CountingHost implements SandboxHost {
  readonly calls: { name: string; args: unknown[] }[] = [];
  private held: (() => void)[] = [];
  holdWebGets = false;
  async call(name: string, args: unknown[]): Promise<unknown> {
    this.calls.push({ name, args });
    if (name === 'WebGet' && this.holdWebGets) await new Promise<void>((resolve) => this.held.push(resolve));
    if (name === 'WebGet') return 'body';
    if (name === 'ENUMLookup') return 'sip:1@example.net';
    return null;
  }
  releaseWebGets(): void {
    for (const release of this.held.splice(0)) release();
  }
  count(name: string | RegExp): number {
    return this.calls.filter((call) => (typeof name === 'string' ? call.name === name : name.test(call.name))).length;
  }
  logs(): string[] {
    return this.calls.filter((call) => call.name === 'Log').map((call) => String(call.args[0]));
  }
}

let supervisor: SandboxSupervisor;
let counter = 0;

async function run(source: string, host: SandboxHost, limits?: Partial<SandboxLimits>) {
  const compiled = await compiledDialplan(source);
  counter++;
  return supervisor.run({ tenantId: 't1', callId: `c${counter}`, dialplanName: 'default', js: compiled.js, sourceMap: compiled.sourceMap, req: request, limits }, host);
}

beforeAll(async () => {
  supervisor = new SandboxSupervisor();
  await supervisor.start();
});
afterAll(async () => {
  await supervisor.stop();
});

describe('per-execution caps on sys calls (real isolates)', () => {
  it('WebGet: 10 per call, the 11th throws a clear error the dialplan can catch', async () => {
    const host = new CountingHost();
    const result = await run(
      `for (let i = 1; i <= 12; i++) {
         try { await sys.WebGet('https://example.com/' + i); } catch (e) { sys.Log('webget ' + i + ': ' + (e as Error).message); }
       }`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.count('WebGet')).toBe(10);
    expect(host.logs()).toEqual([
      'webget 11: sys.WebGet refused: a dialplan may call WebGet at most 10 times per call',
      'webget 12: sys.WebGet refused: a dialplan may call WebGet at most 10 times per call',
    ]);
  });

  it('WebGet: at most 3 in flight; a slot frees when one is answered', async () => {
    const host = new CountingHost();
    host.holdWebGets = true;
    const running = run(
      `const first = [1, 2, 3, 4].map((i) => sys.WebGet('https://example.com/' + i));
       const settled = await Promise.allSettled(first);
       sys.Log(settled.map((s) => s.status === 'fulfilled' ? 'ok' : (s.reason as Error).message).join(' | '));
       sys.Log(await sys.WebGet('https://example.com/5'));`,
      host,
    );
    for (let i = 0; i < 200 && host.count('WebGet') < 3; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(host.count('WebGet')).toBe(3);
    host.holdWebGets = false;
    host.releaseWebGets();
    expect(await running).toEqual({ status: 'completed' });
    expect(host.logs()).toEqual(['ok | ok | ok | sys.WebGet refused: at most 3 WebGet calls may be in flight at once', 'body']);
    expect(host.count('WebGet')).toBe(4);
  });

  it('ENUMLookup: 10 per call', async () => {
    const host = new CountingHost();
    const result = await run(`for (let i = 0; i < 11; i++) await sys.ENUMLookup('+4930123' + i);`, host);
    expect(result).toMatchObject({ status: 'failed', code: 500, reason: 'sys.ENUMLookup refused: a dialplan may call ENUMLookup at most 10 times per call' });
    expect(host.count('ENUMLookup')).toBe(10);
  });

  it('DB calls: 200 per call across DBRead/DBWrite/DBDelete/DBGetKeys', async () => {
    const host = new CountingHost();
    const result = await run(
      `for (let i = 0; i < 50; i++) { await sys.DBWrite('k' + i, 'v'); await sys.DBRead('k' + i); await sys.DBDelete('k' + i); await sys.DBGetKeys(); }
       try { await sys.DBRead('one-more'); } catch (e) { sys.Log((e as Error).message); }`,
      host,
    );
    expect(result).toEqual({ status: 'completed' });
    expect(host.count(/^DB/)).toBe(200);
    expect(host.logs()).toEqual(['sys.DBRead refused: a dialplan may call DBRead/DBWrite/DBDelete/DBGetKeys (together) at most 200 times per call']);
  });

  it('Log: 500 lines, then one limit line; nothing more crosses the worker channel', async () => {
    const child = (supervisor as unknown as { child: ChildProcess }).child;
    let notifies = 0;
    const onMessage = (message: unknown): void => {
      notifies += unbatch<{ type: string }>(message).filter((inner) => inner.type === 'sys-notify').length;
    };
    child.on('message', onMessage);
    try {
      const host = new CountingHost();
      const result = await run(`for (let i = 0; i < 5000; i++) sys.Log('line ' + i); sys.Log('after');`, host);
      expect(result).toEqual({ status: 'completed' });
      const logs = host.logs();
      expect(logs).toHaveLength(501);
      expect(logs[499]).toBe('line 499');
      expect(logs[500]).toBe(logLimitLine(DEFAULT_SANDBOX_LIMITS));
      expect(notifies).toBe(501);
    } finally {
      child.off('message', onMessage);
    }
  });

  it('Log: 64 KiB of UTF-8 per call; the line that crosses it is cut on a character boundary', async () => {
    const host = new CountingHost();
    // 'é' is 2 bytes in UTF-8: each line is 1000 bytes.
    const result = await run(`const line = 'é'.repeat(500); for (let i = 0; i < 100; i++) sys.Log(line);`, host);
    expect(result).toEqual({ status: 'completed' });
    const logs = host.logs();
    expect(logs.at(-1)).toBe(logLimitLine(DEFAULT_SANDBOX_LIMITS));
    const content = logs.slice(0, -1);
    expect(content).toHaveLength(66);
    expect(content.slice(0, 65).every((line) => line.length === 500)).toBe(true);
    expect(Buffer.byteLength(content.join(''), 'utf8')).toBe(64 * 1024);
    expect(content[65]).toBe('é'.repeat(268));
  });

  it('the caps follow the run limits', async () => {
    const host = new CountingHost();
    const result = await run(`for (let i = 0; i < 5; i++) sys.Log('x'); await sys.WebGet('https://example.com/'); await sys.WebGet('https://example.com/');`, host, {
      maxLogLines: 2,
      maxWebGets: 1,
    });
    expect(result).toMatchObject({ status: 'failed', reason: 'sys.WebGet refused: a dialplan may call WebGet at most 1 times per call' });
    expect(host.logs()).toEqual(['x', 'x', logLimitLine({ ...DEFAULT_SANDBOX_LIMITS, maxLogLines: 2 })]);
  });
});

describe('SysCallBudget (the supervisor keeps its own)', () => {
  it('refuses over the caps whatever the worker claims, and frees WebGet slots on answer', () => {
    const budget = new SysCallBudget({ ...DEFAULT_SANDBOX_LIMITS, maxWebGets: 5, maxConcurrentWebGets: 2, maxLogLines: 1, maxLogBytes: 10 });
    expect(budget.admit('WebGet')).toBeUndefined();
    expect(budget.admit('WebGet')).toBeUndefined();
    expect(budget.admit('WebGet')).toMatch(/in flight/);
    budget.settled('WebGet');
    expect(budget.admit('WebGet')).toBeUndefined();
    expect(budget.admit('GetBindings')).toBeUndefined();
    expect(budget.admitLog('0123456789')).toBe(true);
    expect(budget.admitLog('limit line')).toBe(true);
    expect(budget.admitLog('more')).toBe(false);
  });
});
