import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../db/index.ts';
import { SandboxSupervisor, type SysFunctionName } from '../../../sandbox/index.ts';
import { compiledDialplan, inviteRequest } from '../../../sandbox/test-fixtures/dialplan-run-inputs.ts';
import type { TenantRef } from '../../registrar/index.ts';
import type { CallServiceOptions } from '../call-service-deps.ts';
import { makeAccount, MemoryKv } from '../call-test-support.ts';
import { LegSettings } from './leg-settings.ts';
import { SysFunctions, type DialplanScope } from './sys-functions.ts';

const request = inviteRequest({
  callId: 'secret-call@test', direction: 'out', source: { address: '127.0.0.1', port: 5062, transport: 'udp' }, account: { username: 'alice', domain: 'acme.example' },
});

/**
 * sys.Secret end to end: a secret sealed in the database is read by a dialplan running in the
 * real sandbox, through the real host-side sys functions, for its own tenant only.
 */
describe('sys.Secret', () => {
  let dir: string;
  let db: Database;
  let supervisor: SandboxSupervisor;
  let acme: TenantRef;
  let other: TenantRef;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'patchbay-secret-'));
    db = await openDatabase(`sqlite:${path.join(dir, 'db.sqlite')}`, { secretKey: randomBytes(32) });
    await db.migrate();
    acme = await db.tenants.add({ domain: 'acme.example' });
    other = await db.tenants.add({ domain: 'other.example' });
    await db.secrets.put(acme.id, 'weather-key', 'acme-key-123');
    await db.secrets.put(other.id, 'other-only', 'other-key-456');
    supervisor = new SandboxSupervisor({ restartBackoff: { initialMs: 20, maxMs: 200 } });
    await supervisor.start();
  });
  afterAll(async () => {
    await supervisor?.stop();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(tenant: TenantRef, source: string): Promise<string[]> {
    const opts = { kv: new MemoryKv(), secrets: db.secrets, logger: pino({ level: 'silent' }), emit: () => {} } as unknown as CallServiceOptions;
    const scope: DialplanScope = {
      tenant,
      callId: 'secret-call',
      account: makeAccount('alice', { tenantId: tenant.id }),
      dialplanName: 'default',
      settings: new LegSettings(),
      dial: async () => ({ answered: false, status: 480, reason: 'x', outcome: 'failed' }),
      respond: () => {},
      callback: async () => ({ answered: false, status: 480, reason: 'x' }),
    };
    const sys = new SysFunctions(scope, { opts, currentCalls: () => [] });
    const logs: string[] = [];
    const compiled = await compiledDialplan(source);
    const result = await supervisor.run(
      { tenantId: String(tenant.id), callId: `c-${logs.length}-${Math.random()}`, dialplanName: 'default', js: compiled.js, sourceMap: compiled.sourceMap, req: request },
      {
        async call(name: string, args: unknown[]) {
          if (name === 'Log') {
            logs.push(String(args[0]));
            return null;
          }
          return sys.call(name as SysFunctionName, args);
        },
      },
    );
    expect(result).toEqual({ status: 'completed' });
    return logs;
  }

  it('gives a dialplan its own tenant\'s secret and null for anything else', async () => {
    const logs = await run(
      acme,
      `const key: string | null = await sys.Secret('weather-key');
       sys.Log('len=' + (key ?? '').length + ' ok=' + (key === 'acme-key-123'));
       sys.Log('other=' + String(await sys.Secret('other-only')));
       sys.Log('none=' + String(await sys.Secret('missing')));
       try { await sys.Secret('../bad name'); } catch (e) { sys.Log('bad=' + (e as Error).message); }`,
    );
    expect(logs).toEqual(['len=12 ok=true', 'other=null', 'none=null', 'bad=Secret: name must be 1-64 characters of A-Z a-z 0-9 _ . -']);
    expect(await run(other, `sys.Log(String(await sys.Secret('weather-key')), String(await sys.Secret('other-only')));`)).toEqual(['null other-key-456']);
  });
});
