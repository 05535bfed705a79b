import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMMON_ENV_BINDINGS,
  CommonConfigSchema,
  generateToken,
  loadConfig,
} from '@datamancy/core';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { PROBE_ENV_BINDINGS, ProbeConfigSchema } from '../src/config.ts';
import { manifestOf, startTestProbe, type TestProbe } from './helpers.ts';

/**
 * Which token the probe sends to the browser service: the configured one (`BROWSER_TOKEN`), or
 * the in-process service token `serve` hands it, but only to the browser this process runs;
 * never to a browser at a configured URL.
 */

let fakeBrowser: FixtureServer & { seen: IncomingHttpHeaders[] };
let page: FixtureServer;

beforeAll(async () => {
  const seen: IncomingHttpHeaders[] = [];
  // A browser service that records who called it and always answers 503 (no Chromium).
  fakeBrowser = Object.assign(
    await startHttpFixture((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"UNAVAILABLE","message":"no browser"}}');
    }),
    { seen },
  );
  page = await startHttpFixture((_req, res) => res.writeHead(200).end('ok'));
});

afterAll(async () => {
  await fakeBrowser?.close();
  await page?.close();
});

async function probeOnce(options: Parameters<typeof startTestProbe>[0]): Promise<string[]> {
  fakeBrowser.seen.length = 0;
  const probe: TestProbe = await startTestProbe({
    manifest: manifestOf({
      defaults: { retries: 0 },
      services: [{ name: 'wiki', checks: [{ kind: 'browser', url: `${page.url}/` }] }],
    }),
    ...options,
  });
  try {
    const res = await probe.call('POST', '/start-stack-probe', { services: ['wiki'] });
    expect(res.status).toBe(200);
  } finally {
    await probe.stop();
  }
  expect(fakeBrowser.seen.length).toBeGreaterThan(0);
  return fakeBrowser.seen.map((h) => h.authorization ?? '(none)');
}

describe('the probe’s browser token', () => {
  it('sends the in-process service token to the browser this process runs', async () => {
    const sent = await probeOnce({ selfServices: { browser: fakeBrowser.url } });
    expect(sent.every((a) => /^Bearer dmcy_/.test(a))).toBe(true);
  });

  it('never sends the in-process token to a browser at a configured URL', async () => {
    const sent = await probeOnce({ config: { browser: { url: fakeBrowser.url } } });
    expect(sent).toEqual(sent.map(() => '(none)'));
  });

  it('sends the configured token (BROWSER_TOKEN) wherever the browser is', async () => {
    const token = generateToken();
    const loaded = loadConfig({
      schema: CommonConfigSchema.extend({ probe: ProbeConfigSchema.prefault({}) }),
      bindings: [...COMMON_ENV_BINDINGS, ...PROBE_ENV_BINDINGS],
      env: { BROWSER_URL: fakeBrowser.url, BROWSER_TOKEN: token },
    });
    expect(loaded.probe.browser).toEqual({ url: fakeBrowser.url, token });
    const sent = await probeOnce({ config: { browser: loaded.probe.browser } });
    expect(new Set(sent)).toEqual(new Set([`Bearer ${token}`]));
  });
});
