import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, freePorts, parseSippStats, REPO_ROOT, runSipp, startBaresip, startPatchbay } from './index.ts';

describe('runSipp', () => {
  it('runs a sipp UAC against a sipp UAS and reports every call successful', async () => {
    const [uasPort, uacPort] = await freePorts(2);
    const uas = runSipp({ scenario: 'uas', localPort: uasPort, args: ['-m', '3'], timeoutMs: 20_000 });
    const uac = await runSipp({
      scenario: 'uac',
      target: `127.0.0.1:${uasPort}`,
      localPort: uacPort,
      args: ['-m', '3', '-r', '20'],
      timeoutMs: 20_000,
      traceResponseTimes: true,
    });
    const uasResult = await uas;
    expect(uac.code).toBe(0);
    expect(uac.timedOut).toBe(false);
    expect(uac.stats?.successful).toBe(3);
    expect(uac.stats?.failed).toBe(0);
    expect(uac.responseTimesMs.length).toBe(3);
    expect(uasResult.code).toBe(0);
    expect(uasResult.stats?.successful).toBe(3);
  });

  it('reports a failed call when nobody answers', async () => {
    const silentPort = await freePort();
    const result = await runSipp({
      scenario: 'uac',
      target: `127.0.0.1:${silentPort}`,
      args: ['-m', '1', '-recv_timeout', '500'],
      timeoutMs: 15_000,
    });
    expect(result.code).toBe(1);
    expect(result.stats?.failed).toBe(1);
    expect(result.stats?.successful).toBe(0);
  });

  it('parses the last row of a sipp statistics file', () => {
    const csv = 'ElapsedTime(C);TotalCallCreated;SuccessfulCall(C);FailedCall(C);Retransmissions(C)\n' +
      '00:00:01:000000;5;4;1;0\n00:00:02:500000;10;9;1;3\n';
    expect(parseSippStats(csv)).toEqual({ created: 10, successful: 9, failed: 1, retransmissions: 3, elapsedSeconds: 2.5 });
    expect(parseSippStats('')).toBeUndefined();
  });
});

describe('startBaresip', () => {
  it('starts, tries to register with a server that is not there, reports the failure, and stops', async () => {
    const closedPort = await freePort();
    const phone = await startBaresip({
      user: 'alice',
      password: 'secret',
      domain: 'example.test',
      proxy: `127.0.0.1:${closedPort}`,
      transport: 'tcp',
    });
    try {
      await phone.waitFor(/Register: Connection refused/, 10_000);
      const since = phone.output.length;
      phone.send('/reginfo');
      await phone.waitFor(/sip:alice@example\.test\s+\S*ERR/, 5_000, since);
    } finally {
      await phone.stop();
    }
  });
});

const serverExists = existsSync(join(REPO_ROOT, 'scripts', 'patchbay.ts')) && existsSync(join(REPO_ROOT, 'server', 'main.ts'));

describe.skipIf(!serverExists)('startPatchbay', () => {
  it('starts the real server on free ports, answers health, restarts and stops', async () => {
    const server = await startPatchbay();
    try {
      const health = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/health`);
      expect(health.status).toBe(200);
      const firstPid = server.pid;
      await server.restart();
      expect(server.pid).not.toBe(firstPid);
      expect((await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/health`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
