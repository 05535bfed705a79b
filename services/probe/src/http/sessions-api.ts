import { z } from 'zod';
import { readQuery, requireScope, type ServiceApp } from '@datamancy/core';
import type { SessionStore } from '../store/sessions.ts';
import { requireDecider } from './guards.ts';

/**
 * Dashboard sessions for admins: list them, and end every session of a token (a lost laptop, a
 * token about to be rotated) or all of them. Ending sessions is a person's act.
 */

export interface SessionsApiDeps {
  sessions: SessionStore;
}

export const EndSessionsQuery = z
  .object({
    /** A token name, or `*` for every session. */
    token: z.union([z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i), z.literal('*')]),
  })
  .strict();

export function registerSessionRoutes(app: ServiceApp, deps: SessionsApiDeps): void {
  app.get('/sessions', async (c) => {
    requireScope(c, 'admin');
    return c.json({ sessions: await deps.sessions.list() });
  });

  app.delete('/sessions', async (c) => {
    const identity = requireDecider(c, 'end sessions');
    const { token } = readQuery(c, EndSessionsQuery);
    const ended = await deps.sessions.deleteByToken(token === '*' ? undefined : token);
    c.get('log').warn({ caller: identity.name, token, ended }, 'dashboard sessions ended');
    return c.json({ ended });
  });
}
