import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { UI_CONTENT_SECURITY_POLICY, uiCacheControl } from './ui/content-security-policy.ts';
import type { MetricsHandler } from './metrics/index.ts';

/** Takes over an HTTP upgrade (the event hub's WebSocket handshake). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpServerOptions {
  /** The REST API (a Koa app); it answers everything under /api/. */
  api: { callback(): (req: IncomingMessage, res: ServerResponse) => unknown };
  /** The built browser app; served with SPA fallback when the folder exists. Default web/ui/dist. */
  uiDir?: string;
  /** Prometheus metrics at GET /metrics (token-protected); without it /metrics is 404. */
  metrics?: MetricsHandler;
}

/** Where the Prometheus scraper reads the switch's metrics. */
export const METRICS_PATH = '/metrics';

export interface PatchbayHttpServer {
  readonly server: Server;
  /** Routes upgrades on `pathname` (e.g. /api/v1/events) to `handler`; others are refused with 404. */
  onUpgrade(pathname: string, handler: UpgradeHandler): void;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

// `../web/` rather than `./`: the compiled bundle sits in dist/, one folder below the root like this file.
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../web/ui/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Static files of the built UI. A path that leaves the folder (`..`, encoded or not) is 404; a
 * path with no file behind it gets index.html so the app's own router can take it (SPA), except
 * for paths that look like files (`/x.js`), which are a plain 404.
 */
function serveUi(root: string, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path');
    return;
  }
  const file = path.resolve(root, '.' + path.posix.normalize('/' + pathname));
  const inside = file === root || file.startsWith(root + path.sep);
  let target: string | undefined;
  if (inside && isFile(file)) target = file;
  else if (inside && isDir(file) && isFile(path.join(file, 'index.html'))) target = path.join(file, 'index.html');
  else if (inside && path.extname(pathname) === '') target = path.join(root, 'index.html');
  if (!target || !isFile(target)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const ext = path.extname(target).toLowerCase();
  res.writeHead(200, {
    'content-type': TYPES[ext] ?? 'application/octet-stream',
    'content-length': statSync(target).size,
    'cache-control': uiCacheControl(path.relative(root, target).split(path.sep).join('/')),
    'x-content-type-options': 'nosniff',
    // On every file, not only index.html: a worker script runs under its own response's policy.
    'content-security-policy': UI_CONTENT_SECURITY_POLICY,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(target).pipe(res);
}

/** The one HTTP server: the REST API under /api/, WebSocket upgrades by path, and the built UI. */
export function createHttpServer(options: HttpServerOptions): PatchbayHttpServer {
  const apiHandler = options.api.callback();
  const uiRoot = path.resolve(options.uiDir ?? DEFAULT_UI_DIR);
  const upgrades = new Map<string, UpgradeHandler>();

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === METRICS_PATH || url.startsWith(`${METRICS_PATH}?`)) {
      // Off unless configured: a 404, never the UI's index.html.
      if (options.metrics) options.metrics(req, res);
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (url === '/api' || url.startsWith('/api/') || url.startsWith('/api?') || !isDir(uiRoot)) {
      apiHandler(req, res);
      return;
    }
    serveUi(uiRoot, req, res);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let pathname = '';
    try {
      pathname = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      // falls through to 404
    }
    const handler = upgrades.get(pathname);
    if (handler) {
      handler(req, socket, head);
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  return {
    server,
    onUpgrade(pathname, handler) {
      upgrades.set(pathname, handler);
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
