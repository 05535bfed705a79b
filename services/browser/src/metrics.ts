import { Counter, Gauge, Histogram, type Registry } from '@datamancy/core';
import type { ConcurrencyLimiter } from './runtime/limiter.ts';

export interface BrowserMetrics {
  jobs: Counter<'endpoint' | 'outcome'>;
  navigation: Histogram<'outcome'>;
  blocked: Counter<'by' | 'reason'>;
  relaunches: Counter;
}

/** The browser's families, added to the service registry beside the HTTP and process ones. */
export function createBrowserMetrics(
  registry: Registry,
  sources: { limiter: ConcurrencyLimiter; connected: () => boolean },
): BrowserMetrics {
  const { limiter, connected } = sources;
  new Gauge({
    name: 'browser_pages_in_flight',
    help: 'Page jobs holding a slot (one browser context each).',
    registers: [registry],
    collect() {
      this.set(limiter.running);
    },
  });
  new Gauge({
    name: 'browser_queue_depth',
    help: 'Page jobs waiting for a slot.',
    registers: [registry],
    collect() {
      this.set(limiter.queued);
    },
  });
  new Gauge({
    name: 'browser_connected',
    help: '1 while the shared Chromium is connected.',
    registers: [registry],
    collect() {
      this.set(connected() ? 1 : 0);
    },
  });
  return {
    jobs: new Counter({
      name: 'browser_jobs_total',
      help: 'Page jobs by endpoint and outcome (ok, a failure kind, rate_limited, error).',
      labelNames: ['endpoint', 'outcome'] as const,
      registers: [registry],
    }),
    navigation: new Histogram({
      name: 'browser_navigation_duration_seconds',
      help: 'Time to load the requested page, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    blocked: new Counter({
      name: 'browser_blocked_requests_total',
      help: 'URLs the SSRF guard refused, by where (request, route, proxy) and reason.',
      labelNames: ['by', 'reason'] as const,
      registers: [registry],
    }),
    relaunches: new Counter({
      name: 'browser_relaunches_total',
      help: 'Chromium launches after the first (it crashed or was killed).',
      registers: [registry],
    }),
  };
}
