import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPatchbayCli } from './harness/index.ts';

/** `patchbay provider add|set|list|remove` and `patchbay policy show|set|reset` on a SQLite file. */

let dataDir: string;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runPatchbayCli([...args, '--db', `sqlite:${join(dataDir, 'p.db')}`], env);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'patchbay-cli-prov-'));
  env = { PATH: process.env['PATH'], HOME: process.env['HOME'], PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: 'ab'.repeat(32) };
  expect((await cli('tenant', 'add', 'acme.test')).code).toBe(0);
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('provider commands', () => {
  it('add with settings, set, list, remove', async () => {
    const add = await cli('provider', 'add', 'acme.test', 'gizmo', '--server', 'sip:sip.gizmo.example', '--username', 'u1', '--password', 'pw',
      '--header', 'X-Account:42', '--pai', 'on', '--number-format', 'e164', '--country-code', '49', '--json');
    expect(add.code, add.stderr).toBe(0);
    const p = JSON.parse(add.stdout) as { settings: Record<string, unknown>; customHeaders: Record<string, string>; hasPassword: boolean };
    expect(p.settings).toEqual({ assertIdentity: true, numberFormat: 'e164', countryCode: '49' });
    expect(p.customHeaders).toEqual({ 'X-Account': '42' });
    expect(p.hasPassword).toBe(true);
    const set = await cli('provider', 'set', 'acme.test', 'gizmo', '--country-code', '', '--from-host', 'gizmo.example', '--outbound-proxy', 'sip:proxy.gizmo.example', '--source-cidr', '192.0.2.0/24', '--json');
    expect(set.code, set.stderr).toBe(0);
    const q = JSON.parse(set.stdout) as { settings: Record<string, unknown>; outboundProxy: string };
    expect(q.settings).toEqual({ assertIdentity: true, numberFormat: 'e164', fromHost: 'gizmo.example', sourceNetworks: ['192.0.2.0/24'] });
    const badCidr = await cli('provider', 'set', 'acme.test', 'gizmo', '--source-cidr', '10.0.0.0/33');
    expect(badCidr.code).toBe(2);
    expect(badCidr.stderr).toMatch(/--source-cidr: not an IPv4 or IPv6 CIDR/);
    expect(q.outboundProxy).toBe('sip:proxy.gizmo.example');
    const silence = await cli('provider', 'set', 'acme.test', 'gizmo', '--provisional-timeout', '2000', '--json');
    expect((JSON.parse(silence.stdout) as { settings: Record<string, unknown> }).settings).toMatchObject({ provisionalTimeoutMs: 2000 });
    const tooLong = await cli('provider', 'set', 'acme.test', 'gizmo', '--provisional-timeout', '40000');
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/--provisional-timeout: expected 0\.\.32000 ms/);
    const list = await cli('provider', 'list', 'acme.test');
    expect(list.stdout).toContain('gizmo\tsip:sip.gizmo.example via sip:proxy.gizmo.example\tu1\tno registration');
    expect((await cli('provider', 'remove', 'acme.test', 'gizmo')).code).toBe(0);
    expect((await cli('provider', 'list', 'acme.test')).stdout.trim()).toBe('no providers');
  });

  it('bad values exit 2 naming the option; protected headers are refused', async () => {
    const bad = await cli('provider', 'add', 'acme.test', 'x', '--server', 'sip:a.example', '--number-format', 'weird');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--number-format must be one of/);
    const via = await cli('provider', 'add', 'acme.test', 'y', '--server', 'sip:a.example', '--header', 'Via:SIP/2.0/UDP evil');
    expect(via.code).toBe(2);
    expect(via.stderr).toMatch(/--header: header "Via" is set by the switch/);
    const host = await cli('provider', 'add', 'acme.test', 'z', '--server', 'sip:a.example', '--from-host', 'a b');
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/--from-host: not a host name/);
  });
});

describe('policy commands', () => {
  it('shows the documented defaults, edits and resets them', async () => {
    const show = await cli('policy', 'show', 'acme.test');
    expect(show.stdout).toContain('denied prefixes: +870 +881 +882 +883 +979 +4470 +449 +1900');
    const set = await cli('policy', 'set', 'acme.test', '--allow', '+88234', '--allow-list-only', 'on', '--max-concurrent', '3', '--json');
    expect(set.code, set.stderr).toBe(0);
    const p = JSON.parse(set.stdout) as { allowedPrefixes: string[]; allowListOnly: boolean; maxConcurrentPerTenant: number };
    expect(p).toMatchObject({ allowedPrefixes: ['+88234'], allowListOnly: true, maxConcurrentPerTenant: 3 });
    const bad = await cli('policy', 'set', 'acme.test', '--deny', '882');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--deny: expected an E\.164 prefix like \+4470, got "882"/);
    expect((await cli('policy', 'reset', 'acme.test')).code).toBe(0);
    expect((await cli('policy', 'show', 'acme.test')).stdout).toContain('allow-list only: off');
  });
});

describe('did commands', () => {
  it('add (to a provider, an account or a dialplan), list, remove; duplicates and unknown names fail', async () => {
    expect((await cli('provider', 'add', 'acme.test', 'trunk', '--server', 'sip:t.example')).code).toBe(0);
    const add = await cli('did', 'add', '+49 30 123456', '--tenant', 'acme.test', '--provider', 'trunk', '--json');
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ number: '+4930123456', accountUsername: null });
    expect((await cli('did', 'add', '+4930123456', '--tenant', 'acme.test')).code).toBe(1);
    const unknown = await cli('did', 'add', '+4930999', '--tenant', 'acme.test', '--provider', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/nope/);
    expect((await cli('did', 'add', '+4930777', '--tenant', 'acme.test', '--dialplan', 'sales')).code).toBe(0);
    const bad = await cli('did', 'add', 'abc', '--tenant', 'acme.test');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/<number>: expected a phone number/);
    const list = await cli('did', 'list', 'acme.test');
    expect(list.stdout).toContain('+4930123456\ttrunk\tdialplan incoming');
    expect(list.stdout).toContain('+4930777\tany provider\tdialplan sales');
    expect((await cli('did', 'remove', '+4930123456', '--tenant', 'acme.test')).code).toBe(0);
    expect((await cli('did', 'remove', '+4930123456', '--tenant', 'acme.test')).code).toBe(1);
  });
});
