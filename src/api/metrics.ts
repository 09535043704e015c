// The API server's Prometheus metrics, on its own prom-client Registry.
import { Registry, Counter, Histogram, Gauge } from 'prom-client';
import { registerProcessMetrics } from '../core/process-metrics.ts';

export interface ApiMetrics {
  registry: Registry;
  observeRequest(verb: string, resource: string, code: number, seconds: number): void;
  watchOpened(): void;
  watchClosed(): void;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'apiserver_request_total',
    help: 'API requests by verb, resource and HTTP code.',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'API request latency by verb and resource (watches: until the stream ends).',
    labelNames: ['verb', 'resource'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const watches = new Gauge({
    name: 'apiserver_watch_streams',
    help: 'Watch streams currently open.',
    registers: [registry],
  });
  registerProcessMetrics(registry);
  return {
    registry,
    observeRequest(verb, resource, code, seconds) {
      requests.inc({ verb, resource, code: String(code) });
      duration.observe({ verb, resource }, seconds);
    },
    watchOpened: () => watches.inc(),
    watchClosed: () => watches.dec(),
  };
}
