import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPatchbay, type PatchbayServer } from './harness/index.ts';
import { describeRun, provision, runScenario, storedBindings, waitForStoredBindings } from './registrar-support.ts';

const DOMAIN = 'acme.test';
const PASSWORD = 's3cret-pass';

/** Bindings survive a graceful restart: written behind to the database, loaded again at start. */
describe('registrar end to end (restart)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    // info: the start-up line "registrar ready" carries the number of bindings restored.
    server = await startPatchbay({ logLevel: 'info' });
    await provision(server, [
      ['tenant', 'add', DOMAIN],
      ['account', 'add', `3001@${DOMAIN}`, '--password', PASSWORD],
    ]);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('keeps a binding across SIGTERM and a start on the same data dir', async () => {
    const registered = await runScenario(server, 'register-digest', { user: '3001', domain: DOMAIN, password: PASSWORD });
    expect(registered.result.code, describeRun(registered)).toBe(0);
    const contactUri = `sip:3001@127.0.0.1:${registered.localPort};transport=UDP`;
    const before = await waitForStoredBindings(server, '3001', (r) => r.length === 1);
    expect(before.map((r) => r.contact_uri)).toEqual([contactUri]);

    const firstPid = server.pid;
    await server.restart(); // SIGTERM (graceful), then the same command on the same ports and data dir
    expect(server.pid).not.toBe(firstPid);

    const ready = await server.waitForOutput(/\{[^\n]*"msg":"registrar ready"[^\n]*\}/, 10_000);
    expect(JSON.parse(ready[0]) as { bindings: number }).toMatchObject({ bindings: 1 });
    expect(storedBindings(server, '3001').map((r) => r.contact_uri)).toEqual([contactUri]);

    // A fetch (REGISTER without Contact) from another port lists the binding made before the restart.
    const fetched = await runScenario(server, 'register-fetch', { user: '3001', domain: DOMAIN, password: PASSWORD });
    expect(fetched.result.code, describeRun(fetched)).toBe(0);
    expect(fetched.localPort).not.toBe(registered.localPort);
    expect(fetched.logs).toMatch(new RegExp(`stored: +<${contactUri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>;expires=3[56]\\d\\d\\b`));
  });
});
