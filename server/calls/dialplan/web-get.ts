import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { classifyIpAddress } from '../bridge/index.ts';

/**
 * Host side of `sys.WebGet(url, timeoutMs?)` (DESIGN.md "Sandbox runtime and limits").
 *
 * - http: and https: only, no credentials in the URL, GET, redirects are not followed (a 3xx
 *   comes back as the status; following would need a fresh address check per hop).
 * - Every address the name resolves to must be public; then the connection goes to exactly that
 *   vetted address (custom `lookup`), so a second DNS answer cannot point it elsewhere (rebinding).
 * - The whole exchange (DNS, connect, body) is bounded by timeoutMs, at most 5 s.
 * - The body is cut at 8 KiB: the result says `truncated: true` rather than failing, so a script
 *   reading the start of a large page still works.
 */

export const WEB_GET_MAX_BYTES = 8 * 1024;
export const WEB_GET_MAX_TIMEOUT_MS = 5000;

export class WebGetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGetError';
  }
}

export interface ResolvedAddress { address: string; family: 4 | 6 }

export interface WebGetResponse {
  status: number;
  contentType?: string;
  body: string;
  truncated: boolean;
}

export interface PinnedRequest {
  url: URL;
  /** The vetted address to connect to; the URL's host name is still used for Host and TLS SNI/verification. */
  address: string;
  family: 4 | 6;
  maxBytes: number;
  signal: AbortSignal;
}

export interface WebGetDeps {
  resolve?(hostname: string): Promise<ResolvedAddress[]>;
  fetchPinned?(req: PinnedRequest): Promise<WebGetResponse>;
}

/** True for every address class WebGet must not connect to (all but public unicast). */
export function isForbiddenWebGetAddress(address: string): boolean {
  return classifyIpAddress(address) !== 'public';
}

async function systemResolve(hostname: string): Promise<ResolvedAddress[]> {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

export async function webGet(url: string, opts: { timeoutMs?: number } = {}, deps: WebGetDeps = {}): Promise<WebGetResponse> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebGetError('Invalid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new WebGetError(`Scheme ${parsed.protocol} is not allowed (http and https only)`);
  if (parsed.username || parsed.password) throw new WebGetError('Credentials in the URL are not allowed');
  const requested = opts.timeoutMs ?? WEB_GET_MAX_TIMEOUT_MS;
  const timeoutMs = Number.isFinite(requested) ? Math.min(WEB_GET_MAX_TIMEOUT_MS, Math.max(1, requested)) : WEB_GET_MAX_TIMEOUT_MS;

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new WebGetError(`Timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  timedOut.catch(() => { /* handled through the race below */ });
  try {
    return await Promise.race([fetchChecked(parsed, controller.signal, deps), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function fetchChecked(url: URL, signal: AbortSignal, deps: WebGetDeps): Promise<WebGetResponse> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: ResolvedAddress[];
  const literal = isIP(host);
  if (literal) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (deps.resolve ?? systemResolve)(host);
    } catch {
      throw new WebGetError(`Cannot resolve ${host}`);
    }
  }
  if (signal.aborted) throw new WebGetError('Aborted');
  if (addresses.length === 0) throw new WebGetError(`Cannot resolve ${host}`);
  const bad = addresses.find((a) => isForbiddenWebGetAddress(a.address));
  if (bad) throw new WebGetError(`Address ${bad.address} of ${host} is not allowed (${classifyIpAddress(bad.address)})`);
  const chosen = addresses[0];
  return (deps.fetchPinned ?? fetchPinned)({ url, address: chosen.address, family: chosen.family, maxBytes: WEB_GET_MAX_BYTES, signal });
}

/** `lookup` for http.request that always answers with the vetted address. */
export function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}

/** GET over node:http(s) to the pinned address; no address checks here (webGet did them). */
export function fetchPinned(req: PinnedRequest): Promise<WebGetResponse> {
  const { url, address, family, maxBytes, signal } = req;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<WebGetResponse>((resolve, reject) => {
    const request = client.request({
      protocol: url.protocol,
      hostname: host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { Host: url.host, 'User-Agent': 'Patchbay-WebGet', Accept: '*/*', 'Accept-Encoding': 'identity' },
      lookup: pinnedLookup(address, family),
      family,
      agent: false,
      signal,
      ...(url.protocol === 'https:' && !isIP(host) ? { servername: host } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const done = () => resolve({
        status: res.statusCode ?? 0,
        contentType: typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : undefined,
        body: Buffer.concat(chunks).toString('utf8'),
        truncated,
      });
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = maxBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size = maxBytes;
          truncated = true;
          res.destroy();
          done();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', done);
      res.on('error', (err) => { if (!truncated) reject(new WebGetError(`Response failed: ${err.message}`)); });
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      reject(new WebGetError(signal.aborted ? 'Aborted' : `Request failed: ${err.code ?? err.message}`));
    });
    request.end();
  });
}
