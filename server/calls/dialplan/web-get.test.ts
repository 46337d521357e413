import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchPinned, webGet, WebGetError, type PinnedRequest, type WebGetResponse } from './web-get.ts';

async function rejection(p: Promise<unknown>): Promise<WebGetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WebGetError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** A fetcher that must never be reached. */
const neverFetch = { fetchPinned: (): Promise<WebGetResponse> => { throw new Error('must not connect'); } };

describe('webGet refuses', () => {
  it.each([
    ['http://127.0.0.1/', /127\.0\.0\.1 .* not allowed \(loopback\)/],
    ['http://10.0.0.1/', /not allowed \(private\)/],
    ['http://169.254.169.254/latest/meta-data/', /not allowed \(link-local\)/],
    ['http://[::1]:8080/', /::1 .* not allowed \(loopback\)/],
    ['http://[::ffff:192.168.0.1]/', /not allowed \(private\)/],
    ['http://100.64.0.1/', /not allowed \(cgnat\)/],
    ['http://0.0.0.0/', /not allowed \(unspecified\)/],
    ['http://224.0.0.1/', /not allowed \(multicast\)/],
    ['http://2130706433/', /127\.0\.0\.1 .* not allowed/], // WHATWG URL normalizes numeric hosts
    ['file:///etc/passwd', /Scheme file: is not allowed/],
    ['ftp://example.com/', /Scheme ftp: is not allowed/],
    ['http://user:pw@example.com/', /Credentials/],
    ['not a url', /Invalid URL/],
  ])('%s', async (url, re) => {
    expect((await rejection(webGet(url, {}, neverFetch))).message).toMatch(re);
  });

  it('a name that resolves to loopback (localhost, real resolver)', async () => {
    expect((await rejection(webGet('http://localhost/', {}, neverFetch))).message).toMatch(/of localhost is not allowed \(loopback\)/);
  });

  it('a name with any forbidden address among its answers', async () => {
    const resolve = async () => [{ address: '93.184.216.34', family: 4 as const }, { address: '10.1.1.1', family: 4 as const }];
    expect((await rejection(webGet('http://mixed.example/', {}, { ...neverFetch, resolve }))).message).toMatch(/10\.1\.1\.1 of mixed\.example/);
  });

  it('times out a slow resolver', async () => {
    const resolve = () => new Promise<never>(() => {});
    expect((await rejection(webGet('http://slow.example/', { timeoutMs: 20 }, { ...neverFetch, resolve }))).message).toMatch(/Timed out after 20 ms/);
  });
});

describe('webGet allowed path', () => {
  it('connects to the vetted address only, with the size limit', async () => {
    const seen: PinnedRequest[] = [];
    const result = await webGet('https://api.example/path?q=1', { timeoutMs: 60_000 }, {
      resolve: async (host) => { expect(host).toBe('api.example'); return [{ address: '2001:4860:4860::8888', family: 6 }]; },
      fetchPinned: async (req) => { seen.push(req); return { status: 200, body: 'ok', truncated: false }; },
    });
    expect(result).toEqual({ status: 200, body: 'ok', truncated: false });
    expect(seen).toHaveLength(1);
    expect(seen[0].address).toBe('2001:4860:4860::8888');
    expect(seen[0].family).toBe(6);
    expect(seen[0].maxBytes).toBe(8192);
    expect(seen[0].url.href).toBe('https://api.example/path?q=1');
  });
});

describe('fetchPinned (node http with a pinned address)', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function listen(handler: http.RequestListener): Promise<number> {
    server = http.createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return (server.address() as AddressInfo).port;
  }

  it('never resolves the name: connects to the pinned address and keeps the Host header', async () => {
    let hostHeader: string | undefined;
    const port = await listen((req, res) => {
      hostHeader = req.headers.host;
      res.setHeader('content-type', 'text/plain');
      res.end(`path=${req.url}`);
    });
    // .invalid never resolves (RFC 2606): success proves the pinned address was used.
    const r = await fetchPinned({
      url: new URL(`http://pinned.invalid:${port}/a/b?x=1`), address: '127.0.0.1', family: 4,
      maxBytes: 8192, signal: new AbortController().signal,
    });
    expect(r).toEqual({ status: 200, contentType: 'text/plain', body: 'path=/a/b?x=1', truncated: false });
    expect(hostHeader).toBe(`pinned.invalid:${port}`);
  });

  it('cuts the body at maxBytes and says so', async () => {
    const port = await listen((_req, res) => res.end('x'.repeat(20_000)));
    const r = await fetchPinned({
      url: new URL(`http://big.invalid:${port}/`), address: '127.0.0.1', family: 4,
      maxBytes: 8192, signal: new AbortController().signal,
    });
    expect(r.truncated).toBe(true);
    expect(r.body.length).toBe(8192);
  });

  it('rejects when aborted', async () => {
    const port = await listen(() => { /* never answers */ });
    const ac = new AbortController();
    const p = fetchPinned({ url: new URL(`http://hang.invalid:${port}/`), address: '127.0.0.1', family: 4, maxBytes: 10, signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    expect((await rejection(p)).message).toBe('Aborted');
    server?.closeAllConnections();
  });
});
