import { z } from 'zod';
import {
  AppError,
  readQuery,
  readValidated,
  requireScope,
  type ServiceApp,
  type ServiceContext,
} from '@datamancy/core';
import type { HealEngine } from '../heal/engine.ts';
import type { HealStore } from '../heal/store.ts';
import { serviceName } from '../manifest/schema.ts';
import type { Orchestrator } from '../runtime/orchestrator.ts';
import { requireDecider } from './guards.ts';

/**
 * Incidents, approvals and fixes over HTTP. Reading needs `probe.read`; approving, rejecting
 * and running fixes need the admin scope held by a person (never a service's token). No
 * tool-server tool and no model output reaches these routes: approval is a human act.
 */

export interface HealApiDeps {
  heal: HealEngine;
  healStore: HealStore;
  orchestrator: Orchestrator;
}

export const IncidentQuery = z
  .object({
    status: z.enum(['open', 'resolved', 'all']).default('all'),
    service: serviceName.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    before: z.coerce.number().int().min(1).optional(),
  })
  .strict();
export const AnalyzeSchema = z.object({ service: serviceName }).strict();
export const ExecuteSchema = z.object({ proposalId: z.number().int().min(1) }).strict();
export const RejectSchema = z.object({ reason: z.string().min(1).max(1000) }).strict();

function idParam(c: ServiceContext, what: string): number {
  const id = Number(c.req.param('id'));
  if (!Number.isInteger(id) || id < 1)
    throw new AppError('NOT_FOUND', `no ${what} ${c.req.param('id')}`);
  return id;
}

export function registerHealRoutes(app: ServiceApp, deps: HealApiDeps): void {
  const { heal, healStore } = deps;

  app.get('/incidents', async (c) => {
    const q = readQuery(c, IncidentQuery);
    const incidents = await healStore.incidents({
      ...(q.status === 'all' ? {} : { status: q.status }),
      ...(q.service === undefined ? {} : { service: q.service }),
      limit: q.limit,
      ...(q.before === undefined ? {} : { before: q.before }),
    });
    const last = incidents[incidents.length - 1];
    return c.json({
      incidents,
      nextBefore: incidents.length === q.limit && last !== undefined ? last.id : null,
    });
  });

  app.get('/incidents/:id', async (c) => {
    const id = idParam(c, 'incident');
    const incident = await healStore.incident(id);
    if (incident === undefined) throw new AppError('NOT_FOUND', `no incident ${id}`);
    const [timeline, proposals, actions] = await Promise.all([
      healStore.timeline(id),
      healStore.proposals({ incidentId: id }),
      healStore.actions({ incidentId: id }),
    ]);
    return c.json({ incident, timeline, proposals, actions });
  });

  app.post('/analyze-and-propose-fixes', async (c) => {
    requireScope(c, 'admin');
    const { service } = await readValidated(c, AnalyzeSchema, { limitBytes: 16 * 1024 });
    if (!deps.orchestrator.has(service)) {
      throw new AppError('BAD_REQUEST', `service: no service named "${service}"`, {
        data: { issues: [{ path: 'service', message: `no service named "${service}"` }] },
      });
    }
    return c.json(await heal.analyzeNow(service));
  });

  app.post('/execute-fix', async (c) => {
    const identity = requireDecider(c, 'run a fix');
    const { proposalId } = await readValidated(c, ExecuteSchema, { limitBytes: 16 * 1024 });
    return c.json({ proposal: await heal.executeFix(proposalId, identity) });
  });

  app.get('/approvals', async (c) => {
    await heal.expireApprovals();
    const pending = await healStore.proposals({ status: 'awaiting_approval' });
    const approvals = await Promise.all(
      pending.map(async (p) => ({ ...p, incident: await healStore.incident(p.incidentId) })),
    );
    return c.json({ approvals });
  });

  app.post('/approvals/:id/approve', async (c) => {
    const identity = requireDecider(c, 'approve');
    const proposal = await heal.approve(idParam(c, 'proposal'), identity);
    return c.json({ proposal });
  });

  app.post('/approvals/:id/reject', async (c) => {
    const identity = requireDecider(c, 'reject');
    const id = idParam(c, 'proposal');
    const { reason } = await readValidated(c, RejectSchema, { limitBytes: 16 * 1024 });
    return c.json({ proposal: await heal.reject(id, identity, reason) });
  });

  app.get('/patterns', async (c) => c.json({ patterns: await healStore.patterns() }));
}
