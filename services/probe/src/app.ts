import {
  createServiceApp,
  type Logger,
  type ServiceApp,
  type SsrfGuard,
  type TokenRegistry,
} from '@datamancy/core';
import type { ProofStore } from './checks/proofs.ts';
import type { AttemptRunner } from './checks/run.ts';
import type { HealEngine } from './heal/engine.ts';
import type { HealStore } from './heal/store.ts';
import { registerApiRoutes } from './http/api.ts';
import { registerIncidentPages } from './http/dashboard-incidents.ts';
import { registerHealRoutes } from './http/heal-api.ts';
import { DASHBOARD_PUBLIC_PATHS, redirectToLogin, registerDashboard } from './http/dashboard.ts';
import { requireReadScope, securityHeaders } from './http/guards.ts';
import { createOpenApiDocument } from './http/openapi.ts';
import type { DashboardAuth } from './http/session.ts';
import { registerSessionRoutes } from './http/sessions-api.ts';
import { createProbeMetrics } from './metrics.ts';
import type { Orchestrator } from './runtime/orchestrator.ts';
import type { Scheduler } from './runtime/scheduler.ts';
import type { ProbeRepository } from './store/repo.ts';
import type { SessionStore } from './store/sessions.ts';
import { PROBE_VERSION } from './version.ts';

export interface ProbeAppDeps {
  logger: Logger;
  tokens: TokenRegistry;
  orchestrator: Orchestrator;
  scheduler?: Scheduler | undefined;
  repo: ProbeRepository;
  proofs: ProofStore;
  runAttempt: AttemptRunner;
  guard: SsrfGuard;
  browserAvailable: boolean;
  heal: HealEngine;
  healStore: HealStore;
  /** Server-side sessions and trusted SSO headers, for the dashboard. */
  auth: DashboardAuth;
  sessions: SessionStore;
  /** Extra `/healthz` detail. */
  health?: () => Record<string, unknown>;
}

/** The probe's HTTP app: API, dashboard, proofs, OpenAPI, metrics. No I/O at build time. */
export function createApp(deps: ProbeAppDeps): {
  app: ServiceApp;
  metrics: ReturnType<typeof createProbeMetrics>;
} {
  const { app, metrics } = createServiceApp({
    service: 'probe',
    version: PROBE_VERSION,
    logger: deps.logger,
    tokens: deps.tokens,
    authenticate: deps.auth.authenticate,
    publicPaths: DASHBOARD_PUBLIC_PATHS,
    unauthenticated: redirectToLogin,
    health: () => ({ ok: true, services: deps.orchestrator.services.length, ...deps.health?.() }),
  });
  const probeMetrics = createProbeMetrics(metrics.registry, () => deps.orchestrator);
  const openapi = createOpenApiDocument(PROBE_VERSION);
  // Before every route below: headers on all answers, `probe.read` on every read.
  app.use('*', securityHeaders);
  app.get('/openapi.json', (c) => c.json(openapi));
  app.use('*', requireReadScope(DASHBOARD_PUBLIC_PATHS));
  registerApiRoutes(app, deps);
  registerHealRoutes(app, deps);
  registerDashboard(app, deps);
  registerIncidentPages(app, deps);
  registerSessionRoutes(app, deps);
  return { app, metrics: probeMetrics };
}
