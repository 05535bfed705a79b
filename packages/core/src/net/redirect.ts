/**
 * One rule for following an HTTP redirect, shared by every client that follows them by hand
 * (the tools' guarded client, the probe's HTTP checks): what the next request may carry.
 * - 301/302 turn a POST into a GET, 303 turns anything but HEAD into a GET (as browsers do);
 *   the body and the headers that describe it go.
 * - When the next URL is on another origin (scheme, host or port differ), credentials go:
 *   `Authorization`, `Proxy-Authorization`, `Cookie` and any header whose name says it carries
 *   a secret (`X-Api-Key`, `X-Auth-Token`, `PRIVATE-TOKEN`, …), and user:password in the URL.
 * - A 307/308 to another origin must resend the body unchanged, or it is a different request:
 *   the body is never sent across origins, so such a redirect is refused, not followed.
 * Once dropped, credentials stay dropped for the rest of the chain (as in fetch).
 */

/** Dropped on every cross-origin hop. */
export const CROSS_ORIGIN_DROPPED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
];

/** Other header names that carry credentials by their name: dropped cross-origin too. */
const CREDENTIAL_NAME = /auth|token|secret|passw|api-?key|session|cookie|csrf|xsrf|signature/i;

/** Headers that describe a body (fetch's "request-body-header names"), dropped with it. */
const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'transfer-encoding',
]);

/** Is this header dropped when a redirect leaves the origin? */
export function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return CROSS_ORIGIN_DROPPED_HEADERS.includes(lower) || CREDENTIAL_NAME.test(lower);
}

export interface RedirectRequest {
  method: string;
  headers: Readonly<Record<string, string>>;
  body?: string | undefined;
}

export type RedirectPlan =
  | {
      follow: true;
      url: URL;
      request: RedirectRequest;
      crossOrigin: boolean;
      /** Lower-case header names, plus `body` and `userinfo`, that the next hop does not get. */
      dropped: string[];
    }
  | { follow: false; url: URL; crossOrigin: true; reason: string };

/** Is `status` a redirect with a `Location` worth following? */
export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * The next request after a redirect answer. Pure: `location` is resolved against `from`
 * (a malformed one throws `TypeError`, as `new URL` does).
 */
export function planRedirect(
  from: URL,
  status: number,
  location: string,
  request: RedirectRequest,
): RedirectPlan {
  const url = new URL(location, from);
  const crossOrigin = url.origin !== from.origin;
  const method = request.method.toUpperCase();
  const toGet =
    ((status === 301 || status === 302) && method === 'POST') ||
    (status === 303 && method !== 'GET' && method !== 'HEAD');
  const hasBody = request.body !== undefined && request.body !== '';
  if (crossOrigin && hasBody && !toGet) {
    return {
      follow: false,
      url,
      crossOrigin,
      reason: `a ${status} to ${url.origin} would resend the request body to another origin: not followed`,
    };
  }
  const dropped: string[] = [];
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    const lower = name.toLowerCase();
    if ((crossOrigin && isCredentialHeader(lower)) || (toGet && BODY_HEADERS.has(lower))) {
      if (!dropped.includes(lower)) dropped.push(lower);
      continue;
    }
    headers[name] = value;
  }
  if (toGet && hasBody) dropped.push('body');
  if (crossOrigin && (url.username !== '' || url.password !== '')) {
    url.username = '';
    url.password = '';
    dropped.push('userinfo');
  }
  const next: RedirectRequest = { method: toGet ? 'GET' : request.method, headers };
  if (!toGet && request.body !== undefined) next.body = request.body;
  return { follow: true, url, request: next, crossOrigin, dropped };
}
