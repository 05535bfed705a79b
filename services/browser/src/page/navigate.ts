import { errors, type Response } from 'playwright-core';
import { AppError, type ErrorCode } from '@datamancy/core';
import { GUARD_HEADER, parseGuardHeader } from '../net/guard-proxy.ts';
import type { PageSession } from './session.ts';

/**
 * Navigation and the failure semantics every endpoint shares. A page job either yields a healthy
 * page (an HTTP status below 400, loaded within the deadline) or fails with an error response:
 *
 * | failure            | code               | HTTP | when                                       |
 * | ------------------ | ------------------ | ---- | ------------------------------------------ |
 * | `http-status`      | `UPSTREAM_ERROR`   | 502  | the page answered ≥ 400 (`status` says it) |
 * | `network`          | `UPSTREAM_ERROR`   | 502  | DNS failure, refused port, TLS, reset      |
 * | `timeout`          | `UPSTREAM_TIMEOUT` | 504  | not loaded (or not captured) in time       |
 * | `refused`          | `URL_REFUSED`      | 403  | the SSRF guard refused a navigation hop    |
 * | `selector-missing` | `UPSTREAM_ERROR`   | 502  | the requested element never appeared       |
 *
 * Every error body carries `ok: false`, `failure`, `status` (the page's HTTP status or null) and
 * `finalUrl`, so an error page can never pass for a healthy capture.
 */

export type FailureKind = 'http-status' | 'network' | 'timeout' | 'refused' | 'selector-missing';

export interface PageFailure {
  kind: FailureKind;
  message: string;
  status: number | null;
  finalUrl: string;
  /** Chromium's `net::ERR_…` name or the proxy's errno (`ECONNREFUSED`, `ENOTFOUND`). */
  netError?: string;
  /** The SSRF guard's reason, for `refused`. */
  reason?: string;
  blockedUrl?: string;
}

export interface Navigation {
  status: number;
  finalUrl: string;
  navigationMs: number;
}

export type WaitUntil = 'load' | 'domcontentloaded' | 'networkidle';

const CODE_OF: Record<FailureKind, ErrorCode> = {
  'http-status': 'UPSTREAM_ERROR',
  network: 'UPSTREAM_ERROR',
  timeout: 'UPSTREAM_TIMEOUT',
  refused: 'URL_REFUSED',
  'selector-missing': 'UPSTREAM_ERROR',
};

/** The error response of a failure; `extra` adds evidence (title, timing, screenshot). */
export function failureError(failure: PageFailure, extra: Record<string, unknown> = {}): AppError {
  const { kind, message, ...rest } = failure;
  return new AppError(CODE_OF[kind], message, {
    data: { ok: false, failure: kind, ...rest, ...extra },
  });
}

/** Thrown inside a page job to end it with a failure. */
export class PageFailureError extends Error {
  constructor(readonly failure: PageFailure) {
    super(failure.message);
    this.name = 'PageFailureError';
  }
}

function netErrorOf(err: Error): string | undefined {
  return /net::(ERR_[A-Z0-9_]+)/.exec(err.message)?.[1];
}

export function timeoutFailure(session: PageSession, what: string): PageFailure {
  const status = session.lastNavigationResponse?.status() ?? null;
  return {
    kind: 'timeout',
    message: `${what} did not finish within the deadline`,
    status,
    finalUrl: session.lastNavigationUrl ?? '',
  };
}

/** True when an error means "the deadline passed" (Playwright's own or our hard stop). */
export function isDeadline(session: PageSession, err: unknown): boolean {
  return err instanceof errors.TimeoutError || (session.expired && !session.aborted);
}

async function fromThrown(session: PageSession, url: string, err: Error): Promise<PageFailure> {
  const lastUrl = session.lastNavigationUrl ?? url;
  const refused = await session.requests.refusal(lastUrl);
  if (refused !== undefined) {
    return {
      kind: 'refused',
      message: refused.message,
      status: null,
      finalUrl: lastUrl,
      reason: refused.reason,
      blockedUrl: lastUrl,
    };
  }
  if (isDeadline(session, err)) return timeoutFailure(session, `loading ${url}`);
  const netError = netErrorOf(err) ?? 'NAVIGATION_FAILED';
  return {
    kind: 'network',
    message: `could not load ${lastUrl}: ${netError}`,
    status: null,
    finalUrl: lastUrl,
    netError,
  };
}

function fromResponse(session: PageSession, response: Response): PageFailure | undefined {
  const finalUrl = response.url();
  const marker = parseGuardHeader(response.headers()[GUARD_HEADER], session.requests.proxyToken);
  if (marker?.kind === 'refused') {
    return {
      kind: 'refused',
      message: `refused: ${finalUrl} (${marker.detail}) is not a URL pages may load`,
      status: null,
      finalUrl,
      reason: marker.detail,
      blockedUrl: finalUrl,
    };
  }
  if (marker?.kind === 'error') {
    return {
      kind: 'network',
      message: `could not load ${finalUrl}: ${marker.detail}`,
      status: null,
      finalUrl,
      netError: marker.detail,
    };
  }
  const status = response.status();
  if (status >= 400) {
    return {
      kind: 'http-status',
      message: `${finalUrl} answered HTTP ${status}`,
      status,
      finalUrl,
    };
  }
  return undefined;
}

/** Loads `url` in the session's page; a failure is returned, never thrown. */
export async function navigate(
  session: PageSession,
  url: string,
  waitUntil: WaitUntil,
): Promise<{ navigation: Navigation } | { failure: PageFailure }> {
  const started = performance.now();
  let response: Response | null;
  try {
    response = await session.page.goto(url, { waitUntil, timeout: session.remaining() });
  } catch (err) {
    if (session.aborted) throw err;
    return { failure: await fromThrown(session, url, err as Error) };
  }
  const navigationMs = Math.round(performance.now() - started);
  if (response === null) {
    return {
      failure: {
        kind: 'network',
        message: `no response for ${url}`,
        status: null,
        finalUrl: session.page.url(),
        netError: 'NO_RESPONSE',
      },
    };
  }
  const failure = fromResponse(session, response);
  if (failure !== undefined) return { failure };
  return { navigation: { status: response.status(), finalUrl: response.url(), navigationMs } };
}
