import { describe, expect, it } from 'vitest';
import { CommonConfigSchema, ConfigError, loadConfig } from '@datamancy/core';
import {
  BROWSER_ENV_BINDINGS,
  BrowserConfigSchema,
  CHROMIUM_CANDIDATES,
  resolveChromium,
} from '../src/config.ts';
import { effectiveAllowHosts } from '../src/main.ts';

const schema = CommonConfigSchema.extend({ browser: BrowserConfigSchema.prefault({}) });
const load = (env: Record<string, string>, overrides: string[] = []) =>
  loadConfig({ schema, env, bindings: BROWSER_ENV_BINDINGS, overrides });

describe('browser configuration', () => {
  it('defaults to port 3000, the system Chromium, 2 pages at once and a queue of 16', () => {
    const { browser } = load({});
    expect(browser).toMatchObject({
      port: 3000,
      maxConcurrency: 2,
      maxQueue: 16,
      viewport: { width: 1280, height: 800 },
      allowHosts: [],
    });
    expect(browser.executablePath).toBeUndefined();
    expect(browser.host).toBeUndefined();
    expect(browser.proofsDir).toBeUndefined();
  });

  it('picks the headless shell when installed, else the full Chromium; a configured path wins', () => {
    const only =
      (...paths: string[]) =>
      (path: string) =>
        paths.includes(path);
    expect(resolveChromium(undefined, only(...CHROMIUM_CANDIDATES))).toBe(
      '/usr/lib/chromium/chromium-headless-shell',
    );
    expect(resolveChromium(undefined, only('/usr/bin/chromium'))).toBe('/usr/bin/chromium');
    // nothing installed: the full browser's path, so the launch error names the usual binary
    expect(resolveChromium(undefined, only())).toBe('/usr/bin/chromium');
    expect(resolveChromium('/opt/chrome/chrome', only(...CHROMIUM_CANDIDATES))).toBe(
      '/opt/chrome/chrome',
    );
  });

  it('reads its environment variables', () => {
    const { browser } = load({
      BROWSER_PORT: '3100',
      BROWSER_HOST: '0.0.0.0',
      CHROMIUM_PATH: '/opt/chromium/chrome',
      BROWSER_MAX_CONCURRENCY: '4',
      BROWSER_MAX_QUEUE: '0',
      BROWSER_ALLOW_HOSTS: 'wiki.internal, 10.0.0.0/8',
      BROWSER_IGNORE_HTTPS_ERRORS: 'yes',
    });
    expect(browser).toMatchObject({
      port: 3100,
      host: '0.0.0.0',
      executablePath: '/opt/chromium/chrome',
      maxConcurrency: 4,
      maxQueue: 0,
      allowHosts: ['wiki.internal', '10.0.0.0/8'],
      ignoreHttpsErrors: true,
    });
  });

  it('rejects out-of-range values instead of clamping them, naming each path', () => {
    let error: unknown;
    try {
      load({ BROWSER_MAX_CONCURRENCY: '0' }, ['browser.viewport.width=99999']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['browser.maxConcurrency', 'browser.viewport.width']),
    );
    expect((error as ConfigError).message).toContain('set by BROWSER_MAX_CONCURRENCY');
  });

  it('rejects a default timeout above the maximum', () => {
    expect(() =>
      BrowserConfigSchema.parse({ defaultTimeoutMs: 90_000, maxTimeoutMs: 60_000 }),
    ).toThrow(/defaultTimeoutMs must not exceed maxTimeoutMs/);
  });

  it('lets pages reach loopback, the stack and the domain, plus the configured hosts', () => {
    const common = CommonConfigSchema.parse({ domain: 'example.org' });
    const hosts = effectiveAllowHosts(common, BrowserConfigSchema.parse({ allowHosts: ['wiki'] }));
    expect(hosts).toEqual(
      expect.arrayContaining([
        '127.0.0.0/8',
        'authelia',
        'grafana',
        '*.example.org',
        'example.org',
        'wiki',
      ]),
    );
  });
});
