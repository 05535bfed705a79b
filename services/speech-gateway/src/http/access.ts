import { requireScope, type Scope, type ServiceApp, type ServiceContext } from '@datamancy/core';

/** What the gateway's API (`/v1/*`) and its description need; `admin` has it too. */
export const SPEECH_SCOPE: Scope = 'speech.use';

/**
 * Registers the scope gate, before the routes: a token without `speech.use` gets 403 naming it
 * before any body is read or backend called. `/healthz` (public) and `/metrics`
 * (`metrics.read`) are answered by core's app and never reach it.
 */
export function registerAccess(app: ServiceApp): void {
  for (const path of ['/v1/*', '/openapi.json']) {
    app.use(path, async (c, next) => {
      // Hono types a middleware's input as `any`; the check reads the identity only.
      requireScope(c as ServiceContext, SPEECH_SCOPE);
      await next();
    });
  }
}
