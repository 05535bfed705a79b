import { AppError, SsrfError, type Logger, type SsrfGuard } from '@datamancy/core';
import type { Viewport } from '../config.ts';
import type { BrowserMetrics } from '../metrics.ts';
import { resolveGuarded, type BlockedRequest } from '../net/request-guard.ts';
import {
  failureError,
  isDeadline,
  navigate,
  PageFailureError,
  timeoutFailure,
  type Navigation,
  type PageFailure,
  type WaitUntil,
} from '../page/navigate.ts';
import { PageSession } from '../page/session.ts';
import { QueueFullError, type ConcurrencyLimiter, type Release } from './limiter.ts';
import type { SharedBrowser } from './shared-browser.ts';

export type Endpoint = 'screenshot' | 'dom' | 'snapshot' | 'login';

export interface PageJob<T> {
  endpoint: Endpoint;
  target: { url: string; waitUntil: WaitUntil; timeoutMs: number; viewport: Viewport };
  signal?: AbortSignal | undefined;
  /** Evidence added to a failure whose page rendered (an error page): e.g. its screenshot. */
  evidence?: (session: PageSession) => Promise<Record<string, unknown>>;
  work(session: PageSession, navigation: Navigation): Promise<T>;
}

export interface Timing {
  queuedMs: number;
  navigationMs: number | null;
  totalMs: number;
}

export interface JobResult<T> {
  value: T;
  navigation: Navigation;
  finalUrl: string;
  title: string;
  timing: Timing;
  blockedCount: number;
  blockedRequests: BlockedRequest[];
}

export interface PageStats {
  served: number;
  failed: number;
  rejected: number;
  refused: number;
}

export interface PageRunnerDeps {
  limiter: ConcurrencyLimiter;
  browser: SharedBrowser;
  guard: SsrfGuard;
  proxyToken: string;
  ignoreHttpsErrors: boolean;
  logger: Logger;
  metrics?: BrowserMetrics;
}

const EVIDENCE_KINDS = new Set<PageFailure['kind']>(['http-status', 'selector-missing']);

/**
 * Runs page jobs: SSRF check of the URL before anything else, a slot from the limiter (429 when
 * the queue is full), a fresh session, navigation, the endpoint's work, and the session closed
 * and the slot released on every path.
 */
export class PageRunner {
  readonly stats: PageStats = { served: 0, failed: 0, rejected: 0, refused: 0 };
  #avgJobMs = 1_000;

  constructor(private readonly deps: PageRunnerDeps) {}

  /** Seconds a rejected caller should wait: the queue ahead of it at the recent pace. */
  retryAfterS(): number {
    const { limiter } = this.deps;
    const ahead = (limiter.running + limiter.queued) / limiter.maxConcurrency;
    return Math.max(1, Math.ceil((ahead * this.#avgJobMs) / 1000));
  }

  async run<T>(job: PageJob<T>): Promise<JobResult<T>> {
    const arrived = performance.now();
    await this.#checkTarget(job.target.url);
    const release = await this.#acquire(job);
    const queuedMs = Math.round(performance.now() - arrived);
    let session: PageSession | undefined;
    let outcome = 'error';
    let navigationMs: number | null = null;
    const timing = (): Timing => ({
      queuedMs,
      navigationMs,
      totalMs: Math.round(performance.now() - arrived),
    });
    try {
      session = await PageSession.open(
        {
          browser: this.deps.browser,
          guard: this.deps.guard,
          proxyToken: this.deps.proxyToken,
          ignoreHttpsErrors: this.deps.ignoreHttpsErrors,
          logger: this.deps.logger,
          onBlocked: (b) => this.deps.metrics?.blocked.inc({ by: b.by, reason: b.reason }),
        },
        { viewport: job.target.viewport, timeoutMs: job.target.timeoutMs, signal: job.signal },
      );
      const started = performance.now();
      const loaded = await navigate(session, job.target.url, job.target.waitUntil);
      navigationMs = Math.round(performance.now() - started);
      if ('failure' in loaded) throw new PageFailureError(loaded.failure);
      const value = await job.work(session, loaded.navigation);
      const title = await session.page.title();
      outcome = 'ok';
      return {
        value,
        navigation: loaded.navigation,
        finalUrl: session.page.url(),
        title,
        timing: timing(),
        blockedCount: session.requests.blockedCount,
        blockedRequests: session.requests.blocked,
      };
    } catch (err) {
      const failure = this.#failureOf(err, session);
      if (failure === undefined) throw this.#unexpected(err, session);
      outcome = failure.kind;
      const evidence = await this.#evidence(job, session, failure);
      throw failureError(failure, {
        ...evidence,
        timing: timing(),
        ...(session === undefined ? {} : { blockedCount: session.requests.blockedCount }),
      });
    } finally {
      await session?.close();
      release();
      this.#record(job.endpoint, outcome, navigationMs, performance.now() - arrived);
    }
  }

  async #checkTarget(url: string): Promise<void> {
    try {
      const parsed = new URL(url);
      this.deps.guard.checkUrl(parsed);
      await resolveGuarded(this.deps.guard, parsed.hostname);
    } catch (err) {
      if (!(err instanceof SsrfError)) throw err;
      this.stats.refused++;
      this.deps.metrics?.blocked.inc({ by: 'request', reason: err.reason });
      throw failureError({
        kind: 'refused',
        message: err.message,
        status: null,
        finalUrl: url,
        reason: err.reason,
        blockedUrl: url,
      });
    }
  }

  async #acquire(job: PageJob<unknown>): Promise<Release> {
    try {
      return await this.deps.limiter.acquire(job.signal);
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw clientGone();
      this.stats.rejected++;
      this.deps.metrics?.jobs.inc({ endpoint: job.endpoint, outcome: 'rate_limited' });
      throw new AppError('RATE_LIMITED', `too many page jobs: ${err.message}; retry later`, {
        retryAfterS: this.retryAfterS(),
        data: { maxConcurrency: this.deps.limiter.maxConcurrency, maxQueue: err.maxQueue },
      });
    }
  }

  #failureOf(err: unknown, session: PageSession | undefined): PageFailure | undefined {
    if (err instanceof PageFailureError) return err.failure;
    if (session === undefined || session.aborted || err instanceof AppError) return undefined;
    if (isDeadline(session, err)) return timeoutFailure(session, 'the page job');
    return undefined;
  }

  #unexpected(err: unknown, session: PageSession | undefined): unknown {
    if (err instanceof AppError) return err;
    if (session?.aborted === true) return clientGone();
    if (!this.deps.browser.connected) {
      return new AppError('UNAVAILABLE', 'Chromium went away during the request; retry', {
        cause: err,
        retryAfterS: 2,
      });
    }
    return err; // a bug: rendered as INTERNAL and logged with its stack
  }

  async #evidence(
    job: PageJob<unknown>,
    session: PageSession | undefined,
    failure: PageFailure,
  ): Promise<Record<string, unknown>> {
    if (session === undefined || session.closed || !EVIDENCE_KINDS.has(failure.kind)) return {};
    try {
      const title = await session.page.title();
      return { title, ...(await job.evidence?.(session)) };
    } catch (err) {
      this.deps.logger.debug({ err }, 'no evidence for the failed page');
      return {};
    }
  }

  #record(endpoint: Endpoint, outcome: string, navigationMs: number | null, totalMs: number): void {
    if (outcome === 'ok') this.stats.served++;
    else this.stats.failed++;
    this.#avgJobMs = this.#avgJobMs * 0.8 + totalMs * 0.2;
    this.deps.metrics?.jobs.inc({ endpoint, outcome });
    if (navigationMs !== null)
      this.deps.metrics?.navigation.observe({ outcome }, navigationMs / 1000);
  }
}

function clientGone(): AppError {
  return new AppError('BAD_REQUEST', 'the client went away before the page job finished');
}
