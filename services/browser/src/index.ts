export { createApp } from './app.ts';
export type { BrowserServiceApp, BrowserServiceDeps } from './app.ts';
export {
  BROWSER_ENV_BINDINGS,
  BrowserConfigSchema,
  CHROMIUM_ARGS,
  CHROMIUM_CANDIDATES,
  chromiumArgs,
  MAX_CHARS_LIMIT,
  resolveChromium,
  ViewportSchema,
} from './config.ts';
export type { BrowserConfig, Viewport } from './config.ts';
export { createOpenApiDocument } from './http/openapi.ts';
export { createRequestSchemas } from './http/schemas.ts';
export type {
  DomRequest,
  LoginRequest,
  RequestSchemas,
  ScreenshotRequest,
  SnapshotRequest,
} from './http/schemas.ts';
export { effectiveAllowHosts, startBrowserService } from './main.ts';
export type { RunningBrowserService, StartBrowserServiceOptions } from './main.ts';
export { GUARD_HEADER, startGuardProxy } from './net/guard-proxy.ts';
export type { GuardProxy, GuardProxyStats } from './net/guard-proxy.ts';
export { AUTHELIA_SELECTORS } from './page/login.ts';
export type { FailureKind, PageFailure } from './page/navigate.ts';
export { ConcurrencyLimiter, QueueFullError } from './runtime/limiter.ts';
export type { Release } from './runtime/limiter.ts';
export type { PageStats } from './runtime/page-runner.ts';
export { SharedBrowser } from './runtime/shared-browser.ts';
export { BROWSER_VERSION } from './version.ts';
