import {
  createServiceApp,
  requireScope,
  type Logger,
  type ServiceApp,
  type ServiceContext,
  type SsrfGuard,
  type TokenRegistry,
} from '@datamancy/core';
import type { BrowserConfig } from './config.ts';
import { createOpenApiDocument } from './http/openapi.ts';
import { registerPageRoutes } from './http/routes.ts';
import { createRequestSchemas } from './http/schemas.ts';
import { createBrowserMetrics } from './metrics.ts';
import { ConcurrencyLimiter } from './runtime/limiter.ts';
import { PageRunner } from './runtime/page-runner.ts';
import { SharedBrowser, type LaunchBrowser } from './runtime/shared-browser.ts';
import { BROWSER_VERSION } from './version.ts';

export interface BrowserServiceDeps {
  config: BrowserConfig;
  logger: Logger;
  tokens: TokenRegistry;
  guard: SsrfGuard;
  /** Starts Chromium (wired to the guard proxy); called lazily, again after a crash. */
  launchBrowser: LaunchBrowser;
  /** The guard proxy's token, to recognise its refusals in page responses. */
  proxyToken: string;
}

export interface BrowserServiceApp {
  app: ServiceApp;
  browser: SharedBrowser;
  limiter: ConcurrencyLimiter;
  runner: PageRunner;
}

/** Builds the browser service's HTTP app. No I/O here: Chromium starts on `browser.start()`. */
export function createApp(deps: BrowserServiceDeps): BrowserServiceApp {
  const { config } = deps;
  const logger = deps.logger;
  const limiter = new ConcurrencyLimiter(config.maxConcurrency, config.maxQueue);
  const { app, metrics } = createServiceApp({
    service: 'browser',
    version: BROWSER_VERSION,
    logger,
    tokens: deps.tokens,
    health: () => ({
      ok: browser.connected,
      browserConnected: browser.connected,
      running: limiter.running,
      queued: limiter.queued,
    }),
  });
  const browserMetrics = createBrowserMetrics(metrics.registry, {
    limiter,
    connected: () => browser.connected,
  });
  const browser = new SharedBrowser({
    launch: deps.launchBrowser,
    logger,
    onLaunch: (relaunch) => {
      if (relaunch) browserMetrics.relaunches.inc();
    },
  });
  const runner = new PageRunner({
    limiter,
    browser,
    guard: deps.guard,
    proxyToken: deps.proxyToken,
    ignoreHttpsErrors: config.ignoreHttpsErrors,
    logger,
    metrics: browserMetrics,
  });

  // Every route but /healthz and /metrics (answered above, the latter with `metrics.read`)
  // needs `browser.use`, checked before a body is read or a page is opened.
  app.use('*', async (c, next) => {
    // Hono types a middleware's input as `any`; the check reads the identity only.
    requireScope(c as ServiceContext, 'browser.use');
    await next();
  });
  const openapi = createOpenApiDocument(BROWSER_VERSION);
  app.get('/openapi.json', (c) => c.json(openapi));
  registerPageRoutes(app, {
    config,
    schemas: createRequestSchemas(config),
    runner,
    limiter,
    browser,
  });
  return { app, browser, limiter, runner };
}
