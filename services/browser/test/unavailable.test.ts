import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBrowser, type ErrorBody, type TestBrowser } from './helpers.ts';

describe('without a working Chromium', () => {
  let browser: TestBrowser;
  beforeAll(async () => {
    browser = await startTestBrowser({ executablePath: '/nonexistent/chromium' });
  });
  afterAll(() => browser?.close());

  it('still listens, says 503 on /healthz and 503 UNAVAILABLE with Retry-After on page requests', async () => {
    const health = await fetch(`${browser.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'unhealthy', browserConnected: false });
    const res = await browser.post('/dom', { url: `${browser.url}/healthz` });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/Chromium could not be started/);
    expect(browser.browser.openContexts()).toBe(0);
  });
});
