import type { MiddlewareHandler } from 'hono';
import {
  AppError,
  requireScope,
  type Identity,
  type ServiceContext,
  type ServiceEnv,
} from '@datamancy/core';
import { mayDecide } from '../heal/engine.ts';

/**
 * Who may do what on the probe, in one place:
 * - reading (every GET: services, history, reports, incidents, approvals, patterns, proofs,
 *   maintenance, dashboard pages) needs `probe.read`;
 * - changing anything needs `admin` (the routes say so);
 * - deciding on a repair (approve, reject, execute-fix) needs `admin` held by a person.
 * Cross-site requests of session and SSO identities are refused before any of this
 * (`requireSameOrigin` in `createServiceApp`).
 */

/** Throws 403 unless a person holding `admin` makes the request. */
export function requireDecider(c: ServiceContext, verb: string): Identity {
  const identity = requireScope(c, 'admin');
  if (!mayDecide(identity)) {
    throw new AppError(
      'FORBIDDEN',
      `a person must decide: ${identity.name} is a service's token and may not ${verb}; use the CLI with the admin token, the dashboard or SSO`,
      { data: { missing: ['person'] } },
    );
  }
  return identity;
}

/** `probe.read` on every GET/HEAD but the given paths (login page, stylesheet, this document). */
export function requireReadScope(exempt: readonly string[]): MiddlewareHandler<ServiceEnv> {
  const open = new Set(exempt);
  return async (c, next) => {
    if ((c.req.method === 'GET' || c.req.method === 'HEAD') && !open.has(c.req.path)) {
      requireScope(c, 'probe.read');
    }
    await next();
  };
}

/**
 * The dashboard's pages load only its own stylesheet and images, post forms only to itself,
 * and are never framed. No script runs on them, so none is allowed.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Security headers on every answer; the CSP and frame denial on HTML ones. */
export const securityHeaders: MiddlewareHandler<ServiceEnv> = async (c, next) => {
  await next();
  c.res.headers.set('x-content-type-options', 'nosniff');
  c.res.headers.set('referrer-policy', 'same-origin');
  if ((c.res.headers.get('content-type') ?? '').startsWith('text/html')) {
    c.res.headers.set('content-security-policy', DASHBOARD_CSP);
    c.res.headers.set('x-frame-options', 'DENY');
  }
};
