import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureServer } from '@datamancy/testkit';
import { startPages } from './fixtures.ts';
import {
  ADMIN,
  OUTSIDER,
  SCRAPER,
  USER,
  startTestBrowser,
  type ErrorBody,
  type TestBrowser,
} from './helpers.ts';

/**
 * Who may drive the browser: a token with `browser.use` (or admin). Any other token is refused
 * before a page opens: the fixture server sees no request and no job is counted.
 */

interface Forbidden {
  error: ErrorBody['error'] & { missing?: string[] };
}

describe('browser service scopes', () => {
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

  const jobs = () => {
    const { served, failed, rejected, refused } = browser.stats;
    return served + failed + rejected + refused;
  };

  it('refuses every page endpoint to a token without browser.use, naming the scope, and opens no page', async () => {
    const hitsBefore = pages.hits.length;
    const jobsBefore = jobs();
    const proxiedBefore = browser.proxy.requests + browser.proxy.tunnels;
    const target = { url: `${pages.url}/ok` };
    for (const token of [OUTSIDER, SCRAPER]) {
      for (const path of ['/screenshot', '/dom', '/snapshot']) {
        const res = await browser.post(path, target, {}, token);
        expect(res.status, `${path}`).toBe(403);
        const body = (await res.json()) as Forbidden;
        expect(body.error).toMatchObject({ code: 'FORBIDDEN', missing: ['browser.use'] });
        expect(body.error.message).toContain('"browser.use"');
      }
      const login = await browser.post(
        '/login',
        { url: `${pages.url}/login`, username: 'alice', password: 'secret' },
        {},
        token,
      );
      expect(login.status).toBe(403);
      for (const path of ['/pressure', '/openapi.json']) {
        expect((await browser.get(path, token)).status, path).toBe(403);
      }
    }
    expect(pages.hits.length).toBe(hitsBefore);
    expect(jobs()).toBe(jobsBefore);
    expect(browser.proxy.requests + browser.proxy.tunnels).toBe(proxiedBefore);
  });

  it('refuses before reading the body: a malformed body still gets 403, not 400', async () => {
    const res = await fetch(`${browser.url}/dom`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OUTSIDER}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(403);
  });

  it('serves a token with browser.use, which cannot read metrics', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/ok` }, {}, USER);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { title: string }).title).toBe('Fixture OK');
    expect(pages.hits).toContain('/ok');
    expect((await browser.get('/pressure', USER)).status).toBe(200);
    const metrics = await browser.get('/metrics', USER);
    expect(metrics.status).toBe(403);
    expect(((await metrics.json()) as Forbidden).error.missing).toEqual(['metrics.read']);
  });

  it('serves metrics to metrics.read and everything to admin; /healthz needs no token', async () => {
    const scraped = await browser.get('/metrics', SCRAPER);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('http_requests_total');
    expect((await browser.get('/metrics', ADMIN)).status).toBe(200);
    expect((await browser.get('/pressure', ADMIN)).status).toBe(200);
    expect((await fetch(`${browser.url}/healthz`)).status).toBe(200);
  });
});
