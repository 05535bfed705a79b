import { z } from 'zod';
import {
  requireScope,
  toValidationIssues,
  validationError,
  type ServiceApp,
} from '@datamancy/core';
import type { AuditLog } from '../audit/audit-log.ts';

const isoDate = z.iso.datetime({ offset: true });

export const AuditQuerySchema = z.object({
  tool: z.string().min(1).max(128).optional(),
  caller: z.string().min(1).max(64).optional(),
  outcome: z
    .enum(['ok', 'error', 'denied', 'invalid', 'not_found', 'timeout', 'aborted'])
    .optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function registerAuditRoutes(app: ServiceApp, audit: AuditLog): void {
  app.get('/audit', async (c) => {
    requireScope(c, 'audit.read');
    const parsed = AuditQuerySchema.safeParse(c.req.query());
    if (!parsed.success)
      throw validationError('BAD_REQUEST', toValidationIssues(parsed.error.issues, 'query'));
    const q = parsed.data;
    const entries = await audit.query({
      ...q,
      since: q.since === undefined ? undefined : new Date(q.since).toISOString(),
      until: q.until === undefined ? undefined : new Date(q.until).toISOString(),
    });
    const last = entries[entries.length - 1];
    return c.json({
      entries,
      nextBefore: entries.length === q.limit && last !== undefined ? last.id : null,
    });
  });
}
