import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  isEntryModule,
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  createSsrfGuard,
  listen,
  stackAllowHosts,
  type TokenRegistry,
  type CommonConfig,
  type Logger,
  type RunningServer,
  runStandalone,
} from '@datamancy/core';
import { createApp } from './app.ts';
import {
  BROWSER_ENV_BINDINGS,
  BrowserConfigSchema,
  chromiumArgs,
  resolveChromium,
  type BrowserConfig,
} from './config.ts';
import { startGuardProxy, type GuardProxyStats } from './net/guard-proxy.ts';
import type { PageStats } from './runtime/page-runner.ts';
import type { SharedBrowser } from './runtime/shared-browser.ts';
import { prepareTrustHome } from './runtime/trust-store.ts';

export interface StartBrowserServiceOptions {
  common: CommonConfig;
  /** A CA certificate (PEM file) Chromium trusts too; default NODE_EXTRA_CA_CERTS. */
  extraCaFile?: string | undefined;
  config: BrowserConfig;
  logger: Logger;
  tokens: TokenRegistry;
}

export interface RunningBrowserService {
  server: RunningServer;
  browser: SharedBrowser;
  stats: PageStats;
  proxy: GuardProxyStats;
  close(): Promise<void>;
}

/** The hosts pages may reach: loopback, the stack's names, the domain, and extras. */
export function effectiveAllowHosts(common: CommonConfig, config: BrowserConfig): string[] {
  return stackAllowHosts(common.domain, config.allowHosts);
}

export async function startBrowserService(
  options: StartBrowserServiceOptions,
): Promise<RunningBrowserService> {
  const { config } = options;
  const logger = options.logger.child({ service: 'browser' });
  const guard = createSsrfGuard({ allowHosts: effectiveAllowHosts(options.common, config) });
  const proxy = await startGuardProxy(guard);
  const executablePath = resolveChromium(config.executablePath);
  // the CA Node is told to trust (the edge's internal CA in the stack), for Chromium too
  let env: Record<string, string> | undefined;
  let trustDir: string | undefined;
  const extraCa = options.extraCaFile ?? process.env.NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined && extraCa !== '') {
    trustDir = await mkdtemp(join(tmpdir(), 'dm-browser-'));
    const trust = await prepareTrustHome(trustDir, extraCa);
    if ('error' in trust)
      logger.warn(
        { caFile: extraCa, error: trust.error },
        'Chromium will not trust the extra CA: pages signed by it fail with ERR_CERT_AUTHORITY_INVALID',
      );
    else {
      env = Object.fromEntries(
        Object.entries({ ...process.env, HOME: trust.home }).filter(
          (e): e is [string, string] => e[1] !== undefined,
        ),
      );
      logger.info({ caFile: extraCa }, 'Chromium trusts the extra CA');
    }
  }
  const built = createApp({
    config,
    logger,
    tokens: options.tokens,
    guard,
    proxyToken: proxy.token,
    launchBrowser: async () => {
      // Fail fast and clearly (Playwright would leave temporary directories behind)
      await access(executablePath, constants.X_OK).catch((err: NodeJS.ErrnoException) => {
        throw new Error(`${executablePath} is not an executable (${err.code ?? err.message})`);
      });
      return chromium.launch({
        executablePath,
        args: chromiumArgs(config.maxConcurrency),
        proxy: { server: proxy.url },
        ...(env === undefined ? {} : { env }),
        // our shutdown closes the browser; Playwright still kills it if the process dies
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: 30_000,
      });
    },
  });
  try {
    await built.browser.start();
  } catch (err) {
    // Serve anyway: /healthz says 503 and each request retries the launch.
    logger.error({ err, executablePath }, 'Chromium did not start');
  }
  const server = await listen(built.app, {
    host: config.host ?? options.common.host,
    port: config.port,
    logger,
    name: 'browser',
  });
  return {
    server,
    browser: built.browser,
    stats: built.runner.stats,
    proxy: proxy.stats,
    close: async () => {
      await server.close();
      await built.browser.close();
      await proxy.close();
      if (trustDir !== undefined) await rm(trustDir, { recursive: true, force: true });
    },
  };
}

/** Standalone entry: `tsx services/browser/src/main.ts` (the CLI's `serve browser` is the usual way). */
async function main(): Promise<void> {
  await runStandalone({
    schema: CommonConfigSchema.extend({ browser: BrowserConfigSchema.prefault({}) }),
    bindings: [...COMMON_ENV_BINDINGS, ...BROWSER_ENV_BINDINGS],
    env: process.env,
    needsStore: false,
    start: ({ config, logger, tokens }) =>
      startBrowserService({ common: config, config: config.browser, logger, tokens }),
  });
}

if (isEntryModule(import.meta.url)) {
  await main();
}
