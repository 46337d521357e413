import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBaresip, startPatchbay, type PatchbayServer } from './harness/index.ts';
import { provision, waitForStoredBindings } from './registrar-support.ts';

const DOMAIN = 'acme.test';
const PASSWORD = 's3cret-pass';

/** A real softphone (baresip 1.0) registers with digest over UDP and TCP and the binding is stored. */
describe('registrar end to end (baresip)', () => {
  let server: PatchbayServer;

  beforeAll(async () => {
    server = await startPatchbay();
    await provision(server, [
      ['tenant', 'add', DOMAIN],
      ['account', 'add', `2001@${DOMAIN}`, '--password', PASSWORD],
      ['account', 'add', `2002@${DOMAIN}`, '--password', PASSWORD],
    ]);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  for (const [user, transport] of [['2001', 'udp'], ['2002', 'tcp']] as const) {
    it(`registers baresip over ${transport.toUpperCase()} with digest auth`, async () => {
      const phone = await startBaresip({ user, password: PASSWORD, domain: DOMAIN, proxy: `127.0.0.1:${transport === 'tcp' ? server.tcpPort : server.sipPort}`, transport });
      try {
        // baresip prints e.g. "2001@acme.test: {0/UDP/v4} 200 OK (patchbay) [1 binding]" once the digest round succeeded.
        const line = await phone.waitFor(new RegExp(`${user}@${DOMAIN}: \\{\\d+/${transport.toUpperCase()}/v4\\} 200 OK[^\\n]*\\[1 binding\\]`), 15_000);
        expect(line[0]).toContain('200 OK');
        expect(phone.output).not.toMatch(/40[13] |Forbidden/);

        const rows = await waitForStoredBindings(server, user, (r) => r.length === 1);
        expect(rows).toHaveLength(1);
        expect(rows[0].source_transport).toBe(transport);
        expect(rows[0].contact_uri).toMatch(new RegExp(`^sip:${user}[^@]*@127\\.0\\.0\\.1:\\d+`));
        if (transport === 'tcp') expect(rows[0].contact_uri).toMatch(/transport=tcp/i);
        expect(rows[0].expires_at).toBeGreaterThan(Date.now() + 60_000);

        const since = phone.output.length;
        phone.send('/reginfo');
        await phone.waitFor(new RegExp(`sip:${user}@${DOMAIN}\\s+\\S*OK`), 5_000, since);
      } finally {
        await phone.stop();
      }
    });
  }
});
