import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNodeSupport, nodeSupportPolicyFromEnv } from './node-support.ts';
import type { DialResult } from './protocol.ts';
import { SandboxSupervisor, type SandboxHost, type SandboxLogger } from './sandbox-supervisor.ts';
import { compiledDialplan, inviteRequest } from './test-fixtures/dialplan-run-inputs.ts';
import { permissionFlag, prepareWorkerLaunch, resolveSandboxUser } from './worker-launch.ts';

const request = inviteRequest({ callId: 'iso-1@test', direction: 'out', account: { username: 'alice', domain: 'acme.example' } });

class RecordingLogger implements SandboxLogger {
  readonly lines: { level: string; message: string; object: object }[] = [];
  info(object: object, message: string): void { this.lines.push({ level: 'info', message, object }); }
  warn(object: object, message: string): void { this.lines.push({ level: 'warn', message, object }); }
  error(object: object, message: string): void { this.lines.push({ level: 'error', message, object }); }
}

const isRoot = process.getuid?.() === 0;

/** Whether users other than the owner can reach this checkout (a clone under a 0700 temp dir cannot). */
function othersCanReach(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o005) !== 0o005) return false;
    if (path.dirname(d) === d) return true;
  }
}
const CHECKOUT = fileURLToPath(new URL('..', import.meta.url));

describe('the worker process as seen from outside (/proc)', () => {
  // Secrets the switch really has in its environment; the worker must inherit none of them.
  const planted = { PATCHBAY_SECRET_KEY: 'ab'.repeat(32), PATCHBAY_DB: 'mysql://root:pw@db/patchbay', NODE_OPTIONS: '--max-old-space-size=64' };
  const saved: Record<string, string | undefined> = {};
  let supervisor: SandboxSupervisor;
  const warnings: string[] = [];

  beforeAll(async () => {
    for (const [key, value] of Object.entries(planted)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    supervisor = new SandboxSupervisor({
      logger: { info: () => {}, error: () => {}, warn: (_o, message) => warnings.push(message) },
    });
    await supervisor.start();
  });

  afterAll(async () => {
    await supervisor.stop();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('has an empty environment, an empty private cwd and (under root) an unprivileged uid', async () => {
    let release!: (value: DialResult) => void;
    let dialing!: () => void;
    const dialStarted = new Promise<void>((resolve) => (dialing = resolve));
    const host: SandboxHost = {
      call: async (name) => {
        if (name !== 'Dial') return null;
        dialing();
        return new Promise<DialResult>((resolve) => (release = resolve));
      },
    };
    const { js, sourceMap } = await compiledDialplan('await sys.Dial("100@local");');
    const running = supervisor.run({ tenantId: 't1', callId: 'c1', dialplanName: 'default', js, sourceMap, req: request }, host);
    await dialStarted;
    const pid = supervisor.pid!;

    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    const names = environ.map((entry) => entry.slice(0, entry.indexOf('=')));
    // The TypeScript worker gets one switch, which keeps tsx from caching code where the worker can write.
    expect(names.filter((name) => !name.startsWith('NODE_CHANNEL_'))).toEqual(['TSX_DISABLE_CACHE']);
    expect(environ.join('\n')).not.toContain(planted.PATCHBAY_SECRET_KEY);

    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    expect(cwd).not.toBe(process.cwd());
    expect(readdirSync(cwd)).toEqual([]);

    const uidLine = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((line) => line.startsWith('Uid:'))!;
    const uids = uidLine.split(/\s+/).slice(1, 5).map(Number);
    if (isRoot && !(othersCanReach(CHECKOUT) && othersCanReach(path.dirname(process.execPath)))) {
      // The sandbox user could not load the code from here: the worker stays root, and says so.
      expect(warnings.join('\n')).toMatch(/sandbox worker runs as root/);
    } else if (isRoot) {
      expect(uids.every((uid) => uid !== 0)).toBe(true);
      const groups = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((line) => line.startsWith('Groups:'))!;
      expect(groups.split(/\s+/).slice(1).filter(Boolean)).not.toContain('0');
    } else {
      expect(uids[0]).toBe(process.getuid?.());
    }

    release({ answered: true, status: 200, reason: 'OK', outcome: 'answered' });
    expect(await running).toEqual({ status: 'completed' });

    await supervisor.stop();
    expect(existsSync(cwd)).toBe(false);
    await supervisor.start();
  });
});

describe('messages from the worker', () => {
  it('drops every message that names another tenant or an execution it was not given, and logs it', async () => {
    const logger = new RecordingLogger();
    const supervisor = new SandboxSupervisor({
      workerPath: fileURLToPath(new URL('./test-fixtures/rogue-worker.ts', import.meta.url)),
      logger,
    });
    try {
      const calls: string[] = [];
      const host: SandboxHost = { call: async (name) => void calls.push(name) };
      const result = await supervisor.run({ tenantId: 't1', callId: 'c1', dialplanName: 'default', js: '', sourceMap: '', req: request }, host);
      expect(result).toEqual({ status: 'failed', code: 500, reason: 'honest' });
      expect(calls).toEqual([]);
      const dropped = logger.lines.filter((line) => line.message.includes('dropped a worker message'));
      expect(dropped.length).toBe(5);
      expect(dropped.every((line) => line.level === 'warn')).toBe(true);
    } finally {
      await supervisor.stop();
    }
  });
});

describe('Node versions without V8 security fixes', () => {
  it('judges versions', () => {
    const strict = { requireSupportedNode: true, allowUnsupportedNode: false };
    expect(checkNodeSupport('v24.11.0', strict).kind).toBe('supported');
    expect(checkNodeSupport('v22.0.0', strict).kind).toBe('supported');
    expect(checkNodeSupport('v20.20.2', strict).kind).toBe('refused');
    expect(checkNodeSupport('v20.20.2', { ...strict, allowUnsupportedNode: true }).kind).toBe('tolerated');
    expect(checkNodeSupport('v20.20.2', { ...strict, requireSupportedNode: false }).kind).toBe('tolerated');
    expect(() => checkNodeSupport('twenty', strict)).toThrow(/not a Node version/);
  });

  it('takes its policy from the environment when not given one', () => {
    expect(nodeSupportPolicyFromEnv({ NODE_ENV: 'production' })).toEqual({ requireSupportedNode: true, allowUnsupportedNode: false });
    expect(nodeSupportPolicyFromEnv({ NODE_ENV: 'production', PATCHBAY_ALLOW_UNSUPPORTED_NODE: '1' }).allowUnsupportedNode).toBe(true);
    expect(nodeSupportPolicyFromEnv({ PATCHBAY_SANDBOX_REQUIRE_SUPPORTED_NODE: 'true' }).requireSupportedNode).toBe(true);
    expect(nodeSupportPolicyFromEnv({ NODE_ENV: 'test' }).requireSupportedNode).toBe(false);
    expect(() => nodeSupportPolicyFromEnv({ PATCHBAY_ALLOW_UNSUPPORTED_NODE: 'please' })).toThrow(/PATCHBAY_ALLOW_UNSUPPORTED_NODE/);
  });

  it('in production refuses dialplans with a start-up log line and starts no worker', async () => {
    const logger = new RecordingLogger();
    const supervisor = new SandboxSupervisor({ logger, requireSupportedNode: true, allowUnsupportedNode: false, nodeVersion: 'v20.20.2' });
    try {
      await supervisor.start();
      expect(logger.lines.filter((line) => line.level === 'error').map((line) => line.message)).toEqual([
        expect.stringContaining('PATCHBAY_ALLOW_UNSUPPORTED_NODE=1'),
      ]);
      expect(supervisor.dialplansEnabled).toBe(false);
      const result = await supervisor.run(
        { tenantId: 't1', callId: 'c1', dialplanName: 'default', js: '', sourceMap: '', req: request },
        { call: async () => null },
      );
      expect(result).toMatchObject({ status: 'failed', code: 503 });
      expect(supervisor.pid).toBeUndefined();
    } finally {
      await supervisor.stop();
    }
  });

  it('runs them when the operator allows it, and says so', async () => {
    const logger = new RecordingLogger();
    const supervisor = new SandboxSupervisor({ logger, requireSupportedNode: true, allowUnsupportedNode: true, nodeVersion: 'v20.20.2' });
    try {
      await supervisor.start();
      expect(supervisor.dialplansEnabled).toBe(true);
      expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('allowed by PATCHBAY_ALLOW_UNSUPPORTED_NODE=1'))).toBe(true);
    } finally {
      await supervisor.stop();
    }
  });
});

describe('choosing the worker user', () => {
  const tempDirs: string[] = [];
  afterAll(() => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  function installIn(parentMode: number): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'patchbay-install-'));
    tempDirs.push(dir);
    chmodSync(dir, parentMode);
    writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    const worker = path.join(dir, 'worker.js');
    writeFileSync(worker, '');
    return worker;
  }

  // The worker also loads this checkout's packages and the Node binary: only where others can reach them.
  const othersCanLoad = othersCanReach(CHECKOUT) && othersCanReach(path.dirname(process.execPath));
  it.runIf(isRoot && othersCanLoad)('drops to the sandbox user when it can read the code (an install under /tmp)', () => {
    const launch = prepareWorkerLaunch({ workerPath: installIn(0o755), user: 'nobody', permissionModel: false });
    try {
      expect(launch.uid).toBe(resolveSandboxUser('nobody').uid);
      expect(launch.warnings).toEqual([]);
      expect(statSync(launch.cwd).mode & 0o777).toBe(0o700);
      expect(statSync(launch.cwd).uid).toBe(launch.uid);
    } finally {
      launch.cleanup();
    }
  });

  it.runIf(isRoot)('stays root with a warning when the sandbox user cannot read the code', () => {
    const launch = prepareWorkerLaunch({ workerPath: installIn(0o700), user: 'nobody', permissionModel: false });
    try {
      expect(launch.uid).toBeUndefined();
      expect(launch.warnings).toEqual([expect.stringContaining('user "nobody" cannot read')]);
    } finally {
      launch.cleanup();
    }
    expect(existsSync(launch.cwd)).toBe(false);
  });

  it('refuses a user that does not exist, or root, with a clear error', () => {
    expect(() => resolveSandboxUser('no-such-user-patchbay')).toThrow('PATCHBAY_SANDBOX_USER: no such user "no-such-user-patchbay"');
    expect(() => resolveSandboxUser('root')).toThrow(/is root/);
    expect(() => resolveSandboxUser('a b')).toThrow(/not a user name/);
  });

  it('puts a compiled worker under the permission model with reads limited to the code', () => {
    const workerPath = installIn(0o755);
    const launch = prepareWorkerLaunch({ workerPath, user: 'nobody', permissionModel: true });
    try {
      expect(launch.execArgv).toContain(permissionFlag());
      expect(launch.execArgv).toContain('--allow-addons');
      expect(launch.execArgv).toContain(`--allow-fs-read=${path.dirname(workerPath)}`);
      expect(launch.execArgv.some((arg) => /^--allow-(fs-write|child-process|worker)/.test(arg))).toBe(false);
    } finally {
      launch.cleanup();
    }
  });
});
