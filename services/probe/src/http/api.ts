import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createReadStream, existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { z } from 'zod';
import {
  AppError,
  readQuery,
  readValidated,
  requestSignal,
  requireScope,
  type ServiceApp,
  type SsrfGuard,
} from '@datamancy/core';
import type { ProofStore } from '../checks/proofs.ts';
import { runCheck, type AttemptRunner } from '../checks/run.ts';
import type { CheckResult } from '../checks/types.ts';
import { roundOutcome } from '../judge/round.ts';
import type { ServiceState } from '../judge/state.ts';
import { serviceName, type CheckSpec } from '../manifest/schema.ts';
import type { Orchestrator, RoundReport, ServiceView } from '../runtime/orchestrator.ts';
import type { Scheduler } from '../runtime/scheduler.ts';
import type { ProbeRepository } from '../store/repo.ts';

export interface ApiDeps {
  orchestrator: Orchestrator;
  scheduler?: Scheduler | undefined;
  repo: ProbeRepository;
  proofs: ProofStore;
  runAttempt: AttemptRunner;
  /** Guards URLs of ad-hoc probes (`POST /start-probe`). */
  guard: SsrfGuard;
  /** Whether ad-hoc probes may add a browser check. */
  browserAvailable: boolean;
  bodyLimitBytes?: number;
}

export interface Summary {
  total: number;
  healthy: number;
  degraded: number;
  failed: number;
  blocked: number;
  maintenance: number;
  pending: number;
}

const SUMMARY_KEY: Record<ServiceState, keyof Omit<Summary, 'total'>> = {
  up: 'healthy',
  degraded: 'degraded',
  down: 'failed',
  blocked: 'blocked',
  maintenance: 'maintenance',
  pending: 'pending',
};

export function summarize(states: readonly ServiceState[]): Summary {
  const summary: Summary = {
    total: states.length,
    healthy: 0,
    degraded: 0,
    failed: 0,
    blocked: 0,
    maintenance: 0,
    pending: 0,
  };
  for (const state of states) summary[SUMMARY_KEY[state]] += 1;
  return summary;
}

export const StackProbeSchema = z
  .object({ services: z.array(serviceName).max(10_000).optional() })
  .strict();
export const AdHocSchema = z
  .object({
    services: z
      .array(z.url({ protocol: /^https?$/ }).max(4096))
      .min(1)
      .max(100),
    browser: z.boolean().default(false),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .strict();
export const HistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    before: z.coerce.number().int().min(1).optional(),
    check: z.string().min(1).max(100).optional(),
    hours: z.coerce
      .number()
      .int()
      .min(1)
      .max(24 * 90)
      .default(24),
  })
  .strict();
export const MaintenanceSchema = z
  .object({
    service: z.union([serviceName, z.literal('*')]),
    start: z.iso.datetime({ offset: true }).optional(),
    end: z.iso.datetime({ offset: true }).optional(),
    durationMinutes: z
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 30)
      .optional(),
    reason: z.string().min(1).max(500),
  })
  .strict()
  .refine((m) => (m.end === undefined) !== (m.durationMinutes === undefined), {
    message: 'give exactly one of end or durationMinutes',
    path: ['end'],
  });

/** A request's signal that every check of a stack probe listens to (hundreds at once). */
function manyListeners(signal: AbortSignal): AbortSignal {
  setMaxListeners(0, signal);
  return signal;
}

function requireService(deps: ApiDeps, name: string): ServiceView {
  const view = deps.orchestrator.view(name);
  if (view === undefined)
    throw new AppError('NOT_FOUND', `no service named "${name}" in the manifest`);
  return view;
}

/** What a report lists for one service of a stack probe. */
function reportEntry(r: RoundReport) {
  return {
    name: r.name,
    state: r.state,
    outcome: r.outcome,
    blockedBy: r.blockedBy,
    flapping: r.flapping,
    inMaintenance: r.inMaintenance,
    ...(r.transition === undefined ? {} : { transition: r.transition }),
    ...(r.llmVerdict === undefined ? {} : { llmVerdict: r.llmVerdict }),
    checks: r.checks,
  };
}

export function registerApiRoutes(app: ServiceApp, deps: ApiDeps): void {
  const limit = deps.bodyLimitBytes ?? 64 * 1024;
  const { orchestrator, repo } = deps;

  app.get('/services', (c) => {
    const services = orchestrator.views();
    return c.json({ summary: summarize(services.map((s) => s.state)), services });
  });

  app.get('/services/:name', async (c) => {
    const service = requireService(deps, c.req.param('name'));
    await repo.flush();
    const [transitions, rounds] = await Promise.all([
      repo.transitions(service.name, 50),
      repo.rounds(service.name, 50),
    ]);
    return c.json({ service, transitions, rounds });
  });

  app.get('/services/:name/history', async (c) => {
    const service = requireService(deps, c.req.param('name'));
    const q = readQuery(c, HistoryQuery);
    await repo.flush();
    const results = await repo.results(service.name, q);
    const sinceHour = Math.floor((Date.now() - q.hours * 3_600_000) / 3_600_000) * 3_600_000;
    const rollups = await repo.rollups(service.name, sinceHour);
    const last = results[results.length - 1];
    return c.json({
      service: service.name,
      results,
      nextBefore: results.length === q.limit && last !== undefined ? last.id : null,
      rollups,
    });
  });

  app.post('/services/:name/probe', async (c) => {
    requireScope(c, 'admin');
    const service = requireService(deps, c.req.param('name'));
    const report = await orchestrator.probeService(service.name, 'manual', requestSignal(c));
    deps.scheduler?.postpone(service.name);
    return c.json(report);
  });

  app.post('/start-stack-probe', async (c) => {
    requireScope(c, 'admin');
    const body = await readValidated(c, StackProbeSchema, { limitBytes: limit, optional: true });
    const unknown = (body.services ?? []).filter((n) => !orchestrator.has(n));
    if (unknown.length > 0) {
      throw new AppError('BAD_REQUEST', `unknown service(s): ${unknown.join(', ')}`, {
        data: {
          issues: [{ path: 'services', message: `not in the manifest: ${unknown.join(', ')}` }],
        },
      });
    }
    const reports = await orchestrator.probeStack(body.services, manyListeners(requestSignal(c)));
    for (const r of reports) deps.scheduler?.postpone(r.name);
    const id = randomUUID();
    const result = {
      id,
      createdAt: new Date().toISOString(),
      summary: summarize(reports.map((r) => r.state)),
      services: reports.map(reportEntry),
    };
    await repo.saveReport(id, 'stack', result);
    return c.json(result);
  });

  app.post('/start-probe', async (c) => {
    requireScope(c, 'admin');
    const body = await readValidated(c, AdHocSchema, { limitBytes: limit });
    body.services.forEach((url, i) => {
      try {
        deps.guard.checkUrl(new URL(url));
      } catch (err) {
        throw new AppError('URL_REFUSED', `services[${i}]: ${(err as Error).message}`, {
          data: { issues: [{ path: `services[${i}]`, message: (err as Error).message }] },
        });
      }
    });
    if (body.browser && !deps.browserAvailable) {
      throw new AppError('BAD_REQUEST', 'browser: no browser service is configured', {
        data: { issues: [{ path: 'browser', message: 'no browser service is configured' }] },
      });
    }
    const signal = manyListeners(requestSignal(c));
    const entries = await Promise.all(
      body.services.map(async (url) => {
        const checks: CheckSpec[] = [
          {
            kind: 'http',
            name: 'http',
            critical: true,
            url,
            method: 'GET',
            headers: {},
            expectStatus: ['200-399'],
            certMinDays: 14,
            followRedirects: true,
            insecureTls: false,
            timeoutMs: body.timeoutMs,
            retries: 0,
          },
        ];
        if (body.browser) {
          checks.push({
            kind: 'browser',
            name: 'browser',
            critical: true,
            url,
            loginWall: 'pass',
            ocr: false,
            timeoutMs: Math.max(body.timeoutMs, 15_000),
            retries: 0,
          });
        }
        const results: CheckResult[] = await Promise.all(
          checks.map((check) => runCheck(deps.runAttempt, url, check, signal)),
        );
        const outcome = roundOutcome(results) ?? null;
        const status =
          outcome === 'fail'
            ? 'failed'
            : outcome === 'degraded'
              ? 'degraded'
              : outcome === null
                ? 'unknown'
                : 'healthy';
        return { url, status, outcome, checks: results };
      }),
    );
    repo.enqueue({ results: entries.flatMap((e) => e.checks) });
    const id = randomUUID();
    const result = {
      id,
      createdAt: new Date().toISOString(),
      summary: {
        total: entries.length,
        healthy: entries.filter((e) => e.status === 'healthy').length,
        degraded: entries.filter((e) => e.status === 'degraded').length,
        failed: entries.filter((e) => e.status === 'failed').length,
      },
      services: entries,
    };
    await repo.saveReport(id, 'urls', result);
    return c.json(result);
  });

  app.get('/reports/:id', async (c) => {
    const id = c.req.param('id');
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new AppError('NOT_FOUND', `no report ${id}`);
    const report = await repo.report(id);
    if (report === undefined) throw new AppError('NOT_FOUND', `no report ${id}`);
    return c.json(report.body);
  });

  app.get('/maintenance', async (c) => c.json({ windows: await repo.maintenance() }));

  app.post('/maintenance', async (c) => {
    const identity = requireScope(c, 'admin');
    const body = await readValidated(c, MaintenanceSchema, { limitBytes: limit });
    if (body.service !== '*' && !orchestrator.has(body.service)) {
      throw new AppError('BAD_REQUEST', `service: no service named "${body.service}"`, {
        data: { issues: [{ path: 'service', message: `no service named "${body.service}"` }] },
      });
    }
    const now = Date.now();
    const startsAt = body.start === undefined ? now : Date.parse(body.start);
    const endsAt =
      body.end !== undefined
        ? Date.parse(body.end)
        : startsAt + (body.durationMinutes ?? 0) * 60_000;
    if (endsAt <= startsAt) {
      throw new AppError('BAD_REQUEST', 'end: must be after start', {
        data: { issues: [{ path: 'end', message: 'must be after start' }] },
      });
    }
    const window = await repo.addMaintenance({
      service: body.service,
      startsAt,
      endsAt,
      reason: body.reason,
      createdBy: identity.name,
      createdAt: now,
    });
    await orchestrator.refreshMaintenance();
    return c.json(window, 201);
  });

  app.delete('/maintenance/:id', async (c) => {
    requireScope(c, 'admin');
    const id = Number(c.req.param('id'));
    if (!Number.isInteger(id) || id < 1 || !(await repo.deleteMaintenance(id))) {
      throw new AppError('NOT_FOUND', `no maintenance window ${c.req.param('id')}`);
    }
    await orchestrator.refreshMaintenance();
    return c.body(null, 204);
  });

  app.get('/proofs/:file', (c) => {
    const path = deps.proofs.pathOf(c.req.param('file'));
    if (path === undefined || !existsSync(path)) throw new AppError('NOT_FOUND', 'no such proof');
    c.header('content-type', 'image/png');
    c.header('cache-control', 'private, max-age=31536000, immutable');
    c.header('x-content-type-options', 'nosniff');
    return c.body(Readable.toWeb(createReadStream(path)) as ReadableStream);
  });
}
