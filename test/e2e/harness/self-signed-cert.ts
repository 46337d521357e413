import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface SelfSignedCert {
  /** The temp dir holding both files (the caller removes it). */
  dir: string;
  /** `cert.pem`: CN and SAN 127.0.0.1, a CA itself, so a peer can trust it as its own CA. */
  cert: string;
  /** `key.pem`: the unencrypted RSA key of `cert`. */
  key: string;
}

/** A one-day self-signed certificate for 127.0.0.1 made by openssl in a new temp dir named `prefix…`. */
export async function selfSignedCert(prefix: string): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', cert,
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE',
  ]);
  return { dir, cert, key };
}
