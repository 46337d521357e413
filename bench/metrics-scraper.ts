import { percentiles } from './stepped-load.ts';

export interface ScrapeSummary {
  scrapes: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  /** Size of the last page (bytes). */
  bytes: number;
}

/** Scrapes GET /metrics every `intervalMs` with the bearer token, as Prometheus would, until stopped. */
export function startMetricsScraper(httpPort: number, token: string, intervalMs = 1000): { stop(): Promise<ScrapeSummary> } {
  const durations: number[] = [];
  let failures = 0;
  let bytes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const scrape = async (): Promise<void> => {
    const started = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      if (res.status !== 200 || !text.includes('patchbay_sip_requests_total')) failures++;
      bytes = text.length;
    } catch {
      failures++;
    }
    durations.push(performance.now() - started);
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(scrape);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      const { p50, p99 } = percentiles(durations);
      return { scrapes: durations.length, failures, p50Ms: p50, p99Ms: p99, bytes };
    },
  };
}
