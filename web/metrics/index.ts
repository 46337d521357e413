// Prometheus metrics of the switch: the registry (read from the lower layers' counts) and the
// token-protected GET /metrics handler that web/http-server.ts mounts.
export { createSwitchMetrics, type SwitchMetrics } from './switch-metrics.ts';
export { createMetricsHandler, MIN_METRICS_TOKEN_LENGTH, type MetricsHandler } from './metrics-endpoint.ts';
export type { MetricsSources, SipTrafficCounts } from './metrics-sources.ts';
