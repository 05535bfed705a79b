import type { Browser } from 'playwright-core';
import { AppError, type Logger } from '@datamancy/core';

export type LaunchBrowser = () => Promise<Browser>;

export interface SharedBrowserOptions {
  launch: LaunchBrowser;
  logger: Logger;
  /** Called after every successful launch; `relaunch` is false only for the first. */
  onLaunch?: (relaunch: boolean) => void;
}

/** A browser that lived less than this is relaunched after a growing pause (crash loops). */
const SHORT_LIFE_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The one Chromium every request shares. Launched once (on `start` or the first request),
 * relaunched when it disconnects (crash, OOM kill), closed once on shutdown. Requests never
 * reuse each other's state: each gets its own browser context.
 */
export class SharedBrowser {
  #browser: Browser | undefined;
  #launching: Promise<Browser> | undefined;
  #closed = false;
  #launches = 0;
  #backoffMs = 0;
  #relaunchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SharedBrowserOptions) {}

  get connected(): boolean {
    return this.#browser?.isConnected() === true;
  }

  /** Launches after the first. */
  get relaunches(): number {
    return Math.max(0, this.#launches - 1);
  }

  /** Browser contexts open right now (one per page job in flight). */
  openContexts(): number {
    return this.#browser?.contexts().length ?? 0;
  }

  /** Launches the browser now instead of on the first request. */
  async start(): Promise<void> {
    await this.get();
  }

  /** The running browser, launching it when needed; 503 UNAVAILABLE when it cannot start. */
  async get(): Promise<Browser> {
    if (this.#closed) {
      throw new AppError('UNAVAILABLE', 'the browser service is shutting down', { retryAfterS: 5 });
    }
    const current = this.#browser;
    if (current?.isConnected() === true) return current;
    this.#launching ??= this.#launch().finally(() => {
      this.#launching = undefined;
    });
    try {
      return await this.#launching;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(
        'UNAVAILABLE',
        `Chromium could not be started: ${(err as Error).message}`,
        {
          cause: err,
          retryAfterS: 5,
        },
      );
    }
  }

  async #launch(): Promise<Browser> {
    const browser = await this.options.launch();
    if (this.#closed) {
      await browser.close();
      throw new AppError('UNAVAILABLE', 'the browser service is shutting down', { retryAfterS: 5 });
    }
    const launchedAt = Date.now();
    this.#launches++;
    this.options.onLaunch?.(this.#launches > 1);
    this.options.logger.info(
      { version: browser.version(), launches: this.#launches },
      'Chromium up',
    );
    browser.once('disconnected', () => {
      if (this.#browser === browser) this.#browser = undefined;
      if (this.#closed) return;
      const lived = Date.now() - launchedAt;
      this.#backoffMs =
        lived < SHORT_LIFE_MS ? Math.min(MAX_BACKOFF_MS, Math.max(500, this.#backoffMs * 2)) : 0;
      this.options.logger.warn(
        { livedMs: lived, relaunchInMs: this.#backoffMs },
        'Chromium disconnected; relaunching',
      );
      this.#relaunchTimer = setTimeout(() => {
        this.#relaunchTimer = undefined;
        this.get().catch((err: unknown) => {
          this.options.logger.error({ err }, 'Chromium relaunch failed; next request retries');
        });
      }, this.#backoffMs);
      this.#relaunchTimer.unref();
    });
    this.#browser = browser;
    return browser;
  }

  /** Closes the browser (and with it every context); later requests get 503. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#relaunchTimer);
    const launching = this.#launching;
    if (launching !== undefined) {
      await launching.then(
        (browser) => browser.close(),
        () => undefined, // a failed launch left nothing to close
      );
    }
    const browser = this.#browser;
    this.#browser = undefined;
    if (browser !== undefined) await browser.close();
  }
}
