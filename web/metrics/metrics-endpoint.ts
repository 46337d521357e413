import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** Answers one HTTP request for the metrics page. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Shortest token accepted: anything guessable would publish the switch's traffic to anyone. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * `GET /metrics` in the Prometheus text format, for a scraper that sends
 * `Authorization: Bearer <token>`. The token is compared in constant time (both sides hashed to
 * the same length first, so neither its content nor its length leaks through timing); a missing
 * or wrong one gets 401, and the token is never accepted from the query string (URLs get logged).
 */
export function createMetricsHandler(options: { registry: Registry; token: string }): MetricsHandler {
  if (options.token.length < MIN_METRICS_TOKEN_LENGTH) throw new Error(`metrics token: at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  const expected = digest(options.token);
  const { registry } = options;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
      return;
    }
    const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    // Compared even when nothing was presented: the answer takes the same work either way.
    if (!timingSafeEqual(digest(presented), expected) || presented === '') {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer realm="patchbay-metrics"', 'content-type': 'text/plain', 'cache-control': 'no-store' })
        .end('unauthorized');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics unavailable');
      },
    );
  };
}
