import type { BrowserContext, Page, Response } from 'playwright-core';
import type { Logger, SsrfGuard } from '@datamancy/core';
import type { Viewport } from '../config.ts';
import { RequestGuard, type BlockedRequest } from '../net/request-guard.ts';
import type { SharedBrowser } from '../runtime/shared-browser.ts';

/** After the deadline, this long is left for the work to notice before the context is closed. */
const HARD_STOP_GRACE_MS = 1_000;

export interface SessionDeps {
  browser: SharedBrowser;
  guard: SsrfGuard;
  proxyToken: string;
  ignoreHttpsErrors: boolean;
  logger: Logger;
  onBlocked?: (blocked: BlockedRequest) => void;
}

export interface SessionOptions {
  viewport: Viewport;
  timeoutMs: number;
  /** The client went away: the context is closed at once. */
  signal?: AbortSignal;
}

/**
 * One page job's private browser: a fresh context (no cookies, cache or storage shared with any
 * other request), one page, the SSRF guard on every request, a deadline. `close()` must run on
 * every path; after the deadline (plus a grace) the context is closed whatever the work is doing.
 */
export class PageSession {
  readonly requests: RequestGuard;
  readonly deadline: number;
  /** The last URL the main frame tried to load (redirect hops included). */
  lastNavigationUrl: string | undefined;
  /** The last response the main frame got for a navigation. */
  lastNavigationResponse: Response | undefined;
  #context: BrowserContext | undefined;
  #page: Page | undefined;
  #closing: Promise<void> | undefined;
  #hardStop: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  aborted = false;

  private constructor(
    private readonly deps: SessionDeps,
    private readonly options: SessionOptions,
  ) {
    this.deadline = performance.now() + options.timeoutMs;
    this.requests = new RequestGuard({
      guard: deps.guard,
      proxyToken: deps.proxyToken,
      logger: deps.logger,
      ...(deps.onBlocked === undefined ? {} : { onBlocked: deps.onBlocked }),
    });
  }

  static async open(deps: SessionDeps, options: SessionOptions): Promise<PageSession> {
    const session = new PageSession(deps, options);
    try {
      await session.#open();
      return session;
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  async #open(): Promise<void> {
    const { signal, timeoutMs, viewport } = this.options;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.aborted = true;
        void this.close();
      };
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#hardStop = setTimeout(() => void this.close(), timeoutMs + HARD_STOP_GRACE_MS);
    const browser = await this.deps.browser.get();
    const context = await browser.newContext({
      viewport,
      ignoreHTTPSErrors: this.deps.ignoreHttpsErrors,
      serviceWorkers: 'block', // a service worker's fetches would bypass the route handler
      acceptDownloads: false,
      locale: 'en-US',
    });
    this.#context = context;
    if (this.#closing !== undefined) {
      // closed (deadline, client gone) while the context was being made
      await context.close();
      throw new Error('page session closed before it opened');
    }
    context.setDefaultTimeout(timeoutMs);
    context.setDefaultNavigationTimeout(timeoutMs);
    await this.requests.install(context);
    const page = await context.newPage();
    this.#page = page;
    page.on('request', (request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        this.lastNavigationUrl = request.url();
      }
    });
    page.on('response', (response) => {
      const request = response.request();
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        this.lastNavigationResponse = response;
      }
    });
  }

  get page(): Page {
    if (this.#page === undefined) throw new Error('page session is not open');
    return this.#page;
  }

  /** Milliseconds left before the deadline (at least 1, so Playwright never reads 0 as "none"). */
  remaining(): number {
    return Math.max(1, Math.round(this.deadline - performance.now()));
  }

  get expired(): boolean {
    return performance.now() >= this.deadline;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Closes the context and its page; safe to call more than once and from any path. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#hardStop);
      if (this.#onAbort !== undefined) {
        this.options.signal?.removeEventListener('abort', this.#onAbort);
      }
      const context = this.#context;
      if (context === undefined) return;
      try {
        await context.close(); // closes its page too
      } catch (err) {
        this.deps.logger.debug({ err }, 'context already closed (browser gone?)');
      }
    })();
    return this.#closing;
  }
}
