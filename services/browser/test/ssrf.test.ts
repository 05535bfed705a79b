import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsrfGuard, DEFAULT_ALLOW_HOSTS } from '@datamancy/core';
import type { FixtureServer } from '@datamancy/testkit';
import { GUARD_HEADER, parseGuardHeader, startGuardProxy } from '../src/net/guard-proxy.ts';
import { METADATA, startPages } from './fixtures.ts';
import { startTestBrowser, type ErrorBody, type TestBrowser } from './helpers.ts';

interface Blocked {
  blockedCount: number;
  blockedRequests: { url: string; reason: string; by: string; navigation: boolean }[];
}

describe('SSRF guard on every URL a page loads (refusals only: nothing non-loopback is contacted)', () => {
  let pages: FixtureServer;
  let browser: TestBrowser;
  beforeAll(async () => {
    pages = await startPages();
    browser = await startTestBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  it('refuses a metadata URL with 403 URL_REFUSED before opening any page', async () => {
    const forwarded = browser.proxy.requests + browser.proxy.tunnels;
    const before = { ...browser.stats };
    const res = await browser.post('/screenshot', { url: 'http://169.254.169.254/' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: 'URL_REFUSED',
      ok: false,
      failure: 'refused',
      reason: 'denied-address',
      status: null,
    });
    expect(browser.proxy.requests + browser.proxy.tunnels).toBe(forwarded);
    expect(browser.stats.refused).toBe(before.refused + 1);
    expect(browser.stats.served + browser.stats.failed).toBe(before.served + before.failed);
  });

  it('refuses hosts that are not on the allowlist by name, before any DNS lookup', async () => {
    const res = await browser.post('/dom', { url: 'https://example.com/' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error.reason).toBe('not-allowlisted');
  });

  it('blocks a sub-resource on a metadata address in the route handler and still serves the page', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/img-metadata` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Blocked & { text: string };
    expect(body.text).toContain('page with a bad image');
    expect(body.blockedCount).toBe(1);
    expect(body.blockedRequests[0]).toEqual({
      url: METADATA,
      reason: 'denied-address',
      by: 'route',
      navigation: false,
    });
  });

  it('refuses a redirect of the page to a metadata address (the proxy catches the hop)', async () => {
    const refusedBefore = browser.proxy.refused;
    const res = await browser.post('/screenshot', { url: `${pages.url}/redirect-metadata` });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: 'URL_REFUSED',
      ok: false,
      failure: 'refused',
      reason: 'denied-address',
      blockedUrl: METADATA,
    });
    expect(browser.proxy.refused).toBe(refusedBefore + 1);
  });

  it('refuses an https redirect hop to a metadata address (CONNECT refused)', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/redirect-https-metadata` });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      failure: 'refused',
      blockedUrl: 'https://169.254.169.254/latest/',
    });
  });

  it('blocks a sub-resource whose redirect goes to a metadata address', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/img-redirect` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Blocked;
    expect(body.blockedRequests).toEqual([
      { url: METADATA, reason: 'denied-address', by: 'proxy', navigation: false },
    ]);
  });
});

describe('guard proxy', () => {
  it('answers a refused target itself with its marker and never connects', async () => {
    const guard = createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS });
    const proxy = await startGuardProxy(guard);
    try {
      const { status, marker } = await new Promise<{ status: number; marker: string }>(
        (resolve, reject) => {
          const port = Number(new URL(proxy.url).port);
          const req = request({ host: '127.0.0.1', port, path: METADATA }, (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, marker: String(res.headers[GUARD_HEADER]) });
          });
          req.on('error', reject);
          req.end();
        },
      );
      expect(status).toBe(403);
      expect(parseGuardHeader(marker, proxy.token)).toEqual({
        kind: 'refused',
        detail: 'denied-address',
      });
      expect(parseGuardHeader(marker, 'another-token')).toBeUndefined();
      expect(proxy.stats).toMatchObject({ requests: 0, refused: 1 });
    } finally {
      await proxy.close();
    }
  });
});
