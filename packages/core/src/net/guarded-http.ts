import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AppError } from '../errors.ts';
import { planRedirect } from './redirect.ts';
import type { SsrfGuard } from './ssrf.ts';

export interface GuardedRequestOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Whole-request deadline, redirects included. */
  timeoutMs: number;
  /** Body bytes kept; the rest is discarded and `truncated` set. */
  maxBodyBytes: number;
  maxRedirects?: number;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  url: string;
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  truncated: boolean;
  redirects: string[];
  elapsedMs: number;
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
  return out;
}

interface Hop {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
}

function once(
  guard: SsrfGuard,
  url: URL,
  method: string,
  headers: Record<string, string>,
  maxBodyBytes: number,
  signal: AbortSignal,
): Promise<Hop> {
  return new Promise<Hop>((resolve, reject) => {
    const requestFn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = requestFn(url, { method, headers, lookup: guard.lookup, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = maxBodyBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          truncated = true;
          res.destroy();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            truncated,
          });
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          truncated,
        }),
      );
      res.on('error', (err) => {
        if (!truncated) reject(err);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * GET/HEAD a URL through the SSRF guard: every hop's URL and resolved address is checked,
 * credentials are dropped when a redirect leaves the origin, the body is cut at the budget.
 */
export async function guardedRequest(
  guard: SsrfGuard,
  target: string | URL,
  options: GuardedRequestOptions,
): Promise<GuardedResponse> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal =
    options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  const maxRedirects = options.maxRedirects ?? 5;
  let url = typeof target === 'string' ? new URL(target) : target;
  let headers: Record<string, string> = { 'user-agent': 'datamancy/0.1', ...options.headers };
  const redirects: string[] = [];
  const method = options.method ?? 'GET';
  for (;;) {
    guard.checkUrl(url);
    let hop: Hop;
    try {
      hop = await once(guard, url, method, headers, options.maxBodyBytes, signal);
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (timeout.aborted) {
        throw new AppError(
          'UPSTREAM_TIMEOUT',
          `no complete answer from ${url.host} within ${options.timeoutMs} ms`,
        );
      }
      if (signal.aborted) throw err;
      const cause = err as NodeJS.ErrnoException;
      const guardCause = (cause as { cause?: unknown }).cause;
      if (guardCause instanceof AppError) throw guardCause;
      throw new AppError(
        'UPSTREAM_ERROR',
        `request to ${url.host} failed: ${cause.code ?? cause.message}`,
        {
          data: { errno: cause.code },
        },
      );
    }
    const location = hop.headers.location;
    if (hop.status >= 300 && hop.status < 400 && location !== undefined && maxRedirects > 0) {
      if (redirects.length >= maxRedirects) {
        throw new AppError(
          'UPSTREAM_ERROR',
          `more than ${maxRedirects} redirects from ${String(target)}`,
        );
      }
      // GET/HEAD only: no body, so every redirect is followed; credentials stay on their origin.
      const plan = planRedirect(url, hop.status, location, { method, headers });
      if (!plan.follow) throw new AppError('UPSTREAM_ERROR', plan.reason);
      headers = { ...plan.request.headers };
      redirects.push(plan.url.toString());
      url = plan.url;
      continue;
    }
    return {
      url: url.toString(),
      status: hop.status,
      headers: flattenHeaders(hop.headers),
      body: hop.body,
      truncated: hop.truncated,
      redirects,
      elapsedMs: Math.round((performance.now() - started) * 10) / 10,
    };
  }
}
