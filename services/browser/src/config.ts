import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import type { EnvBinding } from '@datamancy/core';

/**
 * Flags every Chromium we launch gets. Playwright adds its own (headless, automation, a temporary
 * `--user-data-dir`); these keep the browser quiet on the network and inside its sandbox-less box.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // WebRTC could reach addresses the proxy never sees; keep it to proxied TCP.
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  // Fewer helper processes: no zygotes, the GPU thread inside the browser process, no audio
  // service (see bench/browser for the process count and memory this saves).
  '--no-zygote',
  '--in-process-gpu',
  '--disable-features=AudioServiceOutOfProcess',
];

/**
 * Chromium binaries tried in order when none is configured. Debian's `chromium-headless-shell` is
 * the same Chromium build in the headless mode made for automation (no browser UI, no WebUI
 * renderers beside each page): about half the memory of the full browser per page (see
 * bench/browser). The full `chromium` is the fallback.
 */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  '/usr/lib/chromium/chromium-headless-shell',
  '/usr/bin/chromium',
];

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The configured Chromium, else the first installed candidate, else the last candidate. */
export function resolveChromium(
  configured: string | undefined,
  installed: (path: string) => boolean = isExecutable,
): string {
  if (configured !== undefined) return configured;
  return (
    CHROMIUM_CANDIDATES.find((path) => installed(path)) ??
    CHROMIUM_CANDIDATES[CHROMIUM_CANDIDATES.length - 1] ??
    '/usr/bin/chromium'
  );
}

/** Launch arguments for a service that opens at most `maxConcurrency` pages at once. */
export function chromiumArgs(maxConcurrency: number): string[] {
  return [...CHROMIUM_ARGS, `--renderer-process-limit=${Math.max(2, maxConcurrency)}`];
}

export const ViewportSchema = z.object({
  width: z.number().int().min(100).max(4096),
  height: z.number().int().min(100).max(4096),
});
export type Viewport = z.infer<typeof ViewportSchema>;

/** Hard ceiling of any text budget (`maxChars`), whatever the config says. */
export const MAX_CHARS_LIMIT = 2_000_000;

export const BrowserConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(3000),
    /** Overrides the shared bind address for this service. */
    host: z.string().min(1).optional(),
    /**
     * The system Chromium; a browser is never downloaded. Unset: the first installed of
     * `CHROMIUM_CANDIDATES`.
     */
    executablePath: z.string().min(1).optional(),
    /** Pages open at once (each in its own browser context). */
    maxConcurrency: z.number().int().min(1).max(32).default(2),
    /** Requests allowed to wait for a page; beyond that 429. */
    maxQueue: z.number().int().min(0).max(1000).default(16),
    /** Deadline of one page job (navigation + capture) when the request names none. */
    defaultTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /** The largest `timeoutMs` a request may ask for. */
    maxTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
    viewport: ViewportSchema.default({ width: 1280, height: 800 }),
    /** Default text budget of `/dom` and `/snapshot` (characters). */
    maxChars: z.number().int().min(100).max(MAX_CHARS_LIMIT).default(20_000),
    /** When set, screenshots (and login screenshots) are also written here. */
    proofsDir: z.string().min(1).optional(),
    /** Accept self-signed certificates (the stack's internal CA). */
    ignoreHttpsErrors: z.boolean().default(false),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(64 * 1024),
    /** Extra hosts pages may reach, besides loopback, the stack's names and *.<domain>. */
    allowHosts: z.array(z.string().min(1)).default([]),
  })
  .refine((c) => c.defaultTimeoutMs <= c.maxTimeoutMs, {
    message: 'defaultTimeoutMs must not exceed maxTimeoutMs',
    path: ['defaultTimeoutMs'],
  });
export type BrowserConfig = z.infer<typeof BrowserConfigSchema>;

export const BROWSER_ENV_BINDINGS: readonly EnvBinding[] = [
  { env: 'BROWSER_PORT', path: 'browser.port', kind: 'int' },
  { env: 'BROWSER_HOST', path: 'browser.host' },
  { env: 'CHROMIUM_PATH', path: 'browser.executablePath' },
  { env: 'BROWSER_MAX_CONCURRENCY', path: 'browser.maxConcurrency', kind: 'int' },
  { env: 'BROWSER_MAX_QUEUE', path: 'browser.maxQueue', kind: 'int' },
  { env: 'BROWSER_TIMEOUT_MS', path: 'browser.defaultTimeoutMs', kind: 'int' },
  { env: 'BROWSER_PROOFS_DIR', path: 'browser.proofsDir' },
  { env: 'BROWSER_IGNORE_HTTPS_ERRORS', path: 'browser.ignoreHttpsErrors', kind: 'bool' },
  { env: 'BROWSER_ALLOW_HOSTS', path: 'browser.allowHosts', kind: 'list' },
];
