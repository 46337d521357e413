import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sineWav } from './fixtures/sine-wav.ts';
import { selfSignedCert, startBaresip, type BaresipClient } from './harness/index.ts';
import { DOMAIN, PASSWORD, startSipp, startSwitch, type SippProcess, type Switch } from './calls-support.ts';

/**
 * SIP over TLS end to end: the switch listens on tls:127.0.0.1:<ephemeral> with a self-signed
 * certificate made by openssl for this run; baresip (which trusts that certificate as its CA,
 * CN/SAN 127.0.0.1) registers over it, and a call from a sipp UAC over UDP reaches baresip through
 * the TLS connection its REGISTER came on.
 */

let certDir: string;
let sw: Switch;
let tlsTarget: string;
interface TraceRemote { transport: string; address: string; port: number; connectionId?: string }
const trace: Array<{ dir: 'in' | 'out'; remote: TraceRemote; firstLine: string }> = [];

beforeAll(async () => {
  const { dir, cert, key } = await selfSignedCert('patchbay-tls-e2e-');
  certDir = dir;
  sw = await startSwitch(['1001', '2001'], {
    PATCHBAY_SIP_LISTEN: 'udp:127.0.0.1:0,tls:127.0.0.1:0',
    PATCHBAY_TLS_CERT: cert,
    PATCHBAY_TLS_KEY: key,
  });
  const tls = sw.running.sipListening.find((l) => l.transport === 'tls');
  if (!tls) throw new Error('no TLS listener');
  tlsTarget = `127.0.0.1:${tls.port}`;
  // The stack's trace hook (SipStackOptions.onTrace) is not wired to anything public yet: attach to it directly.
  (sw.running.sip.stack as unknown as { opts: { onTrace?: (dir: 'in' | 'out', data: Buffer, remote: TraceRemote) => void } }).opts.onTrace =
    (dir, data, remote) => trace.push({ dir, remote, firstLine: data.toString('utf8', 0, Math.min(data.length, 200)).split('\r\n')[0]! });
}, 60_000);

afterAll(async () => {
  await sw?.close();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

describe('SIP over TLS (baresip)', () => {
  it('registers over TLS and receives a call on the same TLS connection', async () => {
    let phone: BaresipClient | undefined;
    let caller: SippProcess | undefined;
    try {
      phone = await startBaresip({
        user: '2001', password: PASSWORD, domain: DOMAIN, proxy: tlsTarget, transport: 'tls',
        caFile: join(certDir, 'cert.pem'), autoAnswer: true,
      });
      // e.g. "2001@acme.test: {0/TLS/v4} 200 OK (patchbay) [1 binding]"
      const line = await phone.waitFor(new RegExp(`2001@${DOMAIN}: \\{\\d+/TLS/v4\\} 200 OK[^\\n]*\\[1 binding\\]`), 15_000);
      expect(line[0]).toContain('200 OK');

      // The harness's ausine source only runs at 48 kHz; without an 8 kHz source baresip rejects the call.
      const toneFile = join(certDir, 'tone-8khz.wav');
      await writeFile(toneFile, sineWav({ hz: 1000, sampleRate: 8000, seconds: 5 }));
      const mark = phone.output.length;
      phone.send('/insmod aufile');
      phone.send(`/ausrc aufile,${toneFile}`);
      await phone.waitFor(/aufile/, 5_000, mark);

      const bindings = sw.running.sip.location.bindingsOf('2001', DOMAIN);
      expect(bindings).toHaveLength(1);
      expect(bindings[0]!.source.transport).toBe('tls');
      expect(bindings[0]!.contactUri).toMatch(/transport=tls/i);
      const regSource = bindings[0]!.source;

      await sw.useOutDialplan('1001', 'await sys.Dial("2001@local");');
      const before = (await sw.running.db.cdrs.list({ tenantId: sw.tenantId })).length;
      const since = phone.output.length;
      caller = await startSipp('e2e-uac-auth-answer-bye.xml', { remote: sw.target, service: '2001', user: '1001' });
      const result = await caller.done;
      expect(result.code, result.output).toBe(0);
      // baresip answered the call by itself.
      await phone.waitFor(/Call established: sip:1001@acme\.test/, 5_000, since);
      // The INVITE to the binding went over the very TLS connection its REGISTER came on, and the 200 came back on it.
      const register = trace.find((t) => t.dir === 'in' && t.firstLine.startsWith('REGISTER '));
      const invite = trace.find((t) => t.dir === 'out' && t.firstLine.startsWith('INVITE sip:2001'));
      expect(register?.remote.transport).toBe('tls');
      expect(register?.remote.connectionId).toBeTruthy();
      expect(invite?.remote).toEqual(register?.remote);
      expect(invite?.firstLine).toMatch(/;transport=tls SIP\/2\.0$/);
      const answered = trace.filter((t) => t.dir === 'in' && t.firstLine === 'SIP/2.0 200 OK' && t.remote.connectionId === register?.remote.connectionId);
      expect(answered.length).toBeGreaterThanOrEqual(1);
      expect(trace.filter((t) => t.remote.transport === 'tls').map((t) => t.remote.connectionId)).toEqual(
        trace.filter((t) => t.remote.transport === 'tls').map(() => register?.remote.connectionId),
      );
      const rows = await sw.waitForCdrs(before + 1);
      expect(rows.length).toBe(before + 1);
      expect(rows[0]!.answeredAt).not.toBeNull();
      expect(rows[0]!.legs[0]!.status).toBe(200);
      const after = sw.running.sip.location.bindingsOf('2001', DOMAIN);
      expect(after.map((b) => `${b.source.transport}:${b.source.address}:${b.source.port}`)).toEqual([
        `tls:${regSource.address}:${regSource.port}`,
      ]);
    } finally {
      await caller?.stop();
      await phone?.stop();
    }
  }, 60_000);
});
