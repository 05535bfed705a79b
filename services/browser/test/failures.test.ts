import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureServer } from '@datamancy/testkit';
import { startPages } from './fixtures.ts';
import { PNG_MAGIC, startTestBrowser, type ErrorBody, type TestBrowser } from './helpers.ts';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('failed pages are failures, never healthy results', () => {
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

  it('reports a 404 page as 502 UPSTREAM_ERROR with ok false, its status and the error page as evidence', async () => {
    const res = await browser.post('/screenshot', { url: `${pages.url}/missing` });
    expect(res.status).toBe(502);
    const { error } = (await res.json()) as ErrorBody;
    expect(error).toMatchObject({
      code: 'UPSTREAM_ERROR',
      ok: false,
      failure: 'http-status',
      status: 404,
      finalUrl: `${pages.url}/missing`,
      title: 'Not Found',
    });
    expect(Buffer.from(error.image ?? '', 'base64').subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it('never answers an error page as a PNG, even when the caller asked for image/png', async () => {
    const res = await browser.post(
      '/screenshot',
      { url: `${pages.url}/broken` },
      { accept: 'image/png' },
    );
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({ ok: false, status: 500 });
  });

  it('reports a refused port as a network failure with the errno and no status', async () => {
    const port = await closedPort();
    for (const path of ['/dom', '/snapshot', '/screenshot']) {
      const res = await browser.post(path, { url: `http://127.0.0.1:${port}/` });
      expect(res.status, path).toBe(502);
      const { error } = (await res.json()) as ErrorBody;
      expect(error, path).toMatchObject({
        code: 'UPSTREAM_ERROR',
        ok: false,
        failure: 'network',
        status: null,
        netError: 'ECONNREFUSED',
      });
    }
  });

  it('reports a page slower than timeoutMs as 504 UPSTREAM_TIMEOUT within about the deadline', async () => {
    const started = Date.now();
    const res = await browser.post('/dom', { url: `${pages.url}/hang`, timeoutMs: 700 });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      ok: false,
      failure: 'timeout',
      status: null,
    });
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('reports an element that never appears as selector-missing', async () => {
    const res = await browser.post('/screenshot', {
      url: `${pages.url}/ok`,
      selector: '#not-there',
      timeoutMs: 800,
    });
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      failure: 'selector-missing',
      status: 200,
      ok: false,
    });
  });

  it('closes every context after failures and keeps serving healthy pages', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/ok` });
    expect(res.status).toBe(200);
    expect(browser.browser.openContexts()).toBe(0);
    expect(browser.stats.failed).toBeGreaterThanOrEqual(5);
  });
});
