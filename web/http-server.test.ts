import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Koa from 'koa';
import { createHttpServer, type PatchbayHttpServer } from './http-server.ts';
import { UI_CONTENT_SECURITY_POLICY } from './ui/content-security-policy.ts';

/** Sends raw bytes and reads until the server closes or `until` matches. */
function raw(port: number, text: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 2000);
    s.on('data', (d) => {
      got += d.toString();
      if (until.test(got)) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.write(text);
  });
}

describe('createHttpServer', () => {
  let dir: string;
  let http: PatchbayHttpServer;
  let base: string;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'patchbay-ui-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Patchbay UI</title>');
    writeFileSync(path.join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(dir, '..', 'outside-secret.txt'), 'secret');
    const api = new Koa();
    api.use(async (ctx) => {
      ctx.body = { api: ctx.path };
    });
    http = createHttpServer({ api, uiDir: dir });
    http.onUpgrade('/api/v1/events', (_req, socket) => {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhub-took-it');
    });
    port = (await http.listen(0, '127.0.0.1')).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await http.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(dir, '..', 'outside-secret.txt'), { force: true });
  });

  it('sends /api/ to the API and everything else to the UI, with SPA fallback', async () => {
    expect(await (await fetch(`${base}/api/v1/health`)).json()).toEqual({ api: '/api/v1/health' });
    const index = await fetch(`${base}/`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('Patchbay UI');
    const deep = await fetch(`${base}/dialplans/main/versions`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('Patchbay UI');
    const asset = await fetch(`${base}/assets/app-abc123.js`);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
    // A stale index.html would pin an old build: revalidated every time; hashed assets never.
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  it("sends the UI's Content-Security-Policy with every UI file (workers run under their own), none with the API", async () => {
    for (const p of ['/', '/dialplans/main', '/assets/app-abc123.js']) {
      const res = await fetch(`${base}${p}`);
      expect(res.headers.get('content-security-policy'), p).toBe(UI_CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
    }
    expect(UI_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(UI_CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|https?:/);
    expect((await fetch(`${base}/api/v1/health`)).headers.get('content-security-policy')).toBeNull();
  });

  it('never serves a file outside the UI folder', async () => {
    for (const p of ['/../outside-secret.txt', '/%2e%2e/outside-secret.txt', '/assets/..%2f..%2foutside-secret.txt']) {
      const res = await raw(port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, /\r\n\r\n[\s\S]*$/);
      expect(res).not.toContain('secret');
    }
  });

  it('hands upgrades on the events path to the hook and refuses others', async () => {
    const ok = await raw(port, 'GET /api/v1/events?since=3 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /hub-took-it/);
    expect(ok).toContain('hub-took-it');
    const other = await raw(port, 'GET /api/v1/other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /404/);
    expect(other).toMatch(/^HTTP\/1.1 404/);
  });

  it('answers everything from the API when no UI is built', async () => {
    const api = new Koa();
    api.use(async (ctx) => {
      ctx.body = { api: ctx.path };
    });
    const bare = createHttpServer({ api, uiDir: path.join(dir, 'no-such-dir') });
    const p = (await bare.listen(0, '127.0.0.1')).port;
    try {
      expect(await (await fetch(`http://127.0.0.1:${p}/anything`)).json()).toEqual({ api: '/anything' });
    } finally {
      await bare.close();
    }
  });

  it('answers /metrics with 404 when no metrics are configured, never with the UI', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('not found');
  });

  it('hands /metrics (and only that path) to the metrics handler when configured', async () => {
    const api = new Koa();
    api.use(async (ctx) => {
      ctx.body = { api: ctx.path };
    });
    const withMetrics = createHttpServer({ api, uiDir: dir, metrics: (_req, res) => void res.writeHead(200).end('metrics page') });
    const p = (await withMetrics.listen(0, '127.0.0.1')).port;
    try {
      expect(await (await fetch(`http://127.0.0.1:${p}/metrics`)).text()).toBe('metrics page');
      expect(await (await fetch(`http://127.0.0.1:${p}/metrics?x=1`)).text()).toBe('metrics page');
      expect(await (await fetch(`http://127.0.0.1:${p}/metricsx`)).text()).toContain('Patchbay UI');
    } finally {
      await withMetrics.close();
    }
  });
});
