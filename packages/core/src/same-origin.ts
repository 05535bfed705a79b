import { AppError } from './errors.ts';

/**
 * The same-origin rule for requests a browser can be made to send: a request that changes
 * something (POST, PUT, PATCH, DELETE) and is authorized by what a browser attaches on its own
 * (a session cookie, SSO headers a proxy adds) must come from a page of this origin. SameSite
 * cookies alone do not stop a same-site page (`jupyter.<domain>` posting to `probe.<domain>`),
 * and SSO headers are added to any request the browser sends through the proxy.
 *
 * - `Sec-Fetch-Site` (every current browser sends it): only `same-origin` and `none` (typed in
 *   the address bar, a bookmark) pass.
 * - Without it (an older browser): an `Origin` header must name this request's own host (the
 *   `Host` header); no `Origin` at all passes, as such browsers send none on same-origin forms.
 *
 * Bearer-token requests are out of scope: a browser never attaches a bearer token by itself.
 */

export const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface SameOriginHeaders {
  secFetchSite: string | undefined;
  origin: string | undefined;
  host: string | undefined;
}

/** Why a request is not same-origin, or undefined when it is. Pure. */
export function crossSiteReason(headers: SameOriginHeaders): string | undefined {
  const site = headers.secFetchSite?.trim().toLowerCase();
  if (site !== undefined && site !== '') {
    return site === 'same-origin' || site === 'none' ? undefined : `Sec-Fetch-Site is ${site}`;
  }
  if (headers.origin === undefined) return undefined;
  let host: string;
  try {
    host = new URL(headers.origin).host;
  } catch {
    return `Origin ${headers.origin} is not an origin`;
  }
  if (host === '' || headers.host === undefined || host !== headers.host.toLowerCase()) {
    return `Origin ${headers.origin} is not this host (${headers.host ?? 'no Host header'})`;
  }
  return undefined;
}

interface HeaderReader {
  req: { method: string; header(name: string): string | undefined };
}

/** Throws 403 when a mutating request is not same-origin (see the module comment). */
export function requireSameOrigin(c: HeaderReader): void {
  if (!MUTATING_METHODS.has(c.req.method.toUpperCase())) return;
  const reason = crossSiteReason({
    secFetchSite: c.req.header('sec-fetch-site'),
    origin: c.req.header('origin'),
    host: c.req.header('host'),
  });
  if (reason !== undefined) {
    throw new AppError(
      'FORBIDDEN',
      `cross-site request refused (${reason}): a session or SSO identity may change things only from this origin's own pages`,
      { data: { reason: 'CROSS_SITE' } },
    );
  }
}
