import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKamailio, type KamailioServer } from '../../bench/kamailio-server.ts';
import { freePort, REPO_ROOT } from './harness/index.ts';
import { freeUdpPort } from './calls-support.ts';

export const CARRIER_REALM = 'carrier.test';
export const TRUNK_USER = 'pbx';
export const TRUNK_PASSWORD = 'trunk-s3cret';

export interface Carrier {
  port: number;
  /** Its TCP port, when started with `tcp`. */
  tcpPort?: number;
  /** Its TLS port, when started with `tls`. */
  tlsPort?: number;
  /** `127.0.0.1:<port>` */
  address: string;
  /** Kamailio's log so far; one `CARRIER <method> <ruri> ...` line per request it received. */
  readonly output: string;
  /** The CARRIER lines (requests Kamailio received). */
  requests(): string[];
  stop(): Promise<void>;
}

export interface CarrierOptions {
  /** Where authenticated INVITEs from the trunk go (the sipp far end), `host:port`. */
  uasAddress: string;
  /** Where INVITEs for unregistered numbers go (Patchbay's SIP address), `host:port`. */
  patchbayAddress: string;
  algorithm?: 'MD5' | 'SHA-256';
  /** Longest registration it grants (s). */
  maxExpires?: number;
  /** Also listen on TCP (the port is in `Carrier.tcpPort`). */
  tcp?: boolean;
  /** Also listen on TLS with this certificate and key (PEM files); the port is in `Carrier.tlsPort`. */
  tls?: { certFile: string; keyFile: string };
}

/**
 * A real carrier for the provider tests: Kamailio on a loopback port with a generated config
 * (test/e2e/fixtures/kamailio-carrier.cfg) and a db_text subscriber table holding the trunk's
 * account. Kamailio cannot report an ephemeral port back, so a free one is picked and the start
 * is retried when another process took it meanwhile.
 */
export async function startCarrier(opts: CarrierOptions): Promise<Carrier> {
  const workDir = await mkdtemp(join(tmpdir(), 'patchbay-carrier-'));
  await writeFile(join(workDir, 'version'), 'table_name(string) table_version(int)\nsubscriber:7\n');
  await writeFile(
    join(workDir, 'subscriber'),
    `id(int,auto) username(string) domain(string) password(string,null) ha1(string,null) ha1b(string,null)\n1:${TRUNK_USER}:${CARRIER_REALM}:${TRUNK_PASSWORD}:::\n`,
  );
  let server: KamailioServer | undefined;
  let port = 0;
  let tcpPort: number | undefined;
  let tlsPort: number | undefined;
  let lastError: unknown;
  if (opts.tls) {
    await writeFile(
      join(workDir, 'tls.cfg'),
      `[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = ${opts.tls.keyFile}\ncertificate = ${opts.tls.certFile}\n\n` +
        '[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n',
    );
  }
  for (let attempt = 0; attempt < 3 && !server; attempt++) {
    port = await freeUdpPort();
    tcpPort = opts.tcp ? await freePort() : undefined;
    tlsPort = opts.tls ? await freePort() : undefined;
    const listen = [tcpPort && `listen=tcp:127.0.0.1:${tcpPort}`, tlsPort && `listen=tls:127.0.0.1:${tlsPort}`].filter(Boolean).join('\n');
    try {
      server = await startKamailio({
        template: join(REPO_ROOT, 'test', 'e2e', 'fixtures', 'kamailio-carrier.cfg'),
        substitutions: {
          SIP_PORT: String(port), DB_DIR: workDir, UAS_ADDR: opts.uasAddress, PATCHBAY_ADDR: opts.patchbayAddress,
          ALGORITHM: opts.algorithm ?? 'MD5', MAX_EXPIRES: String(opts.maxExpires ?? 3600),
          DISABLE_TCP: opts.tcp || opts.tls ? 'no' : 'yes', ENABLE_TLS: opts.tls ? 'yes' : 'no', EXTRA_LISTEN: listen,
          TLS_MODULE: opts.tls ? `loadmodule "tls.so"\nmodparam("tls", "config", "${join(workDir, 'tls.cfg')}")` : '',
        },
        workDir,
        sharedMemoryMiB: 16,
      });
    } catch (err) {
      lastError = err;
    }
  }
  if (!server) {
    await rm(workDir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error('kamailio did not start');
  }
  const running = server;
  return {
    port,
    tcpPort,
    tlsPort,
    address: `127.0.0.1:${port}`,
    get output() {
      return running.output;
    },
    requests: () => running.output.split('\n').filter((l) => l.includes('CARRIER ')).map((l) => l.slice(l.indexOf('CARRIER '))),
    async stop() {
      await running.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
