import { Counter, Gauge, Histogram, type Registry } from '@datamancy/core';
import { SERVICE_STATES } from './judge/state.ts';
import type { Orchestrator, RoundReport } from './runtime/orchestrator.ts';

/** The probe's families: per-service up/state and latency, check counts, pressure. */
export function createProbeMetrics(
  registry: Registry,
  orchestrator: () => Orchestrator | undefined,
) {
  new Gauge({
    name: 'probe_service_up',
    help: '1 when the service is up, 0.5 degraded, 0 otherwise (pending, down, blocked, maintenance).',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of orchestrator()?.views() ?? []) {
        this.set({ service: v.name }, v.state === 'up' ? 1 : v.state === 'degraded' ? 0.5 : 0);
      }
    },
  });
  new Gauge({
    name: 'probe_service_state',
    help: '1 for the state each service is in.',
    labelNames: ['service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of orchestrator()?.views() ?? []) {
        for (const state of SERVICE_STATES)
          this.set({ service: v.name, state }, v.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'probe_checks_in_flight',
    help: 'Checks running now.',
    registers: [registry],
    collect() {
      this.set(orchestrator()?.pressure().running ?? 0);
    },
  });
  const latency = new Histogram({
    name: 'probe_round_latency_seconds',
    help: 'Slowest check of each round, per service.',
    labelNames: ['service'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const checks = new Counter({
    name: 'probe_check_attempts_total',
    help: 'Check attempts, by kind and status (retries count too).',
    labelNames: ['kind', 'status'],
    registers: [registry],
  });
  const rounds = new Counter({
    name: 'probe_rounds_total',
    help: 'Rounds judged, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'probe_transitions_total',
    help: 'State changes, by new state.',
    labelNames: ['to'],
    registers: [registry],
  });
  return {
    onRound: (report: RoundReport): void => {
      rounds.inc({ outcome: report.outcome ?? 'none' });
      if (report.transition !== undefined) transitions.inc({ to: report.transition.to });
      let slowest = 0;
      for (const c of report.checks) slowest = Math.max(slowest, c.latencyMs);
      latency.observe({ service: report.name }, slowest / 1000);
    },
    onCheck: (kind: string, status: string): void => {
      checks.inc({ kind, status });
    },
  };
}
