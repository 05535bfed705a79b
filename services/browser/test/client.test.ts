import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, BrowserClient, pageFailureOf } from '@datamancy/clients';
import type { FixtureServer } from '@datamancy/testkit';
import { LOGIN_PASSWORD, LOGIN_USER, startPages } from './fixtures.ts';
import { ADMIN, PNG_MAGIC, startTestBrowser, type TestBrowser } from './helpers.ts';

describe('BrowserClient', () => {
  let pages: FixtureServer;
  let browser: TestBrowser;
  let client: BrowserClient;
  beforeAll(async () => {
    pages = await startPages();
    browser = await startTestBrowser();
    client = new BrowserClient({ baseUrl: browser.url, token: ADMIN });
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  it('takes screenshots as JSON and as bare PNG bytes', async () => {
    const shot = await client.screenshot({ url: `${pages.url}/ok` });
    expect(shot).toMatchObject({ ok: true, status: 200, title: 'Fixture OK' });
    const png = await client.screenshotPng({ url: `${pages.url}/ok` });
    expect(Buffer.from(png.png.subarray(0, 8))).toEqual(PNG_MAGIC);
    expect(png).toMatchObject({ status: 200, finalUrl: `${pages.url}/ok` });
  });

  it('adds the visible text and the login-form signal to a screenshot on request', async () => {
    const plain = await client.screenshot({ url: `${pages.url}/ok` });
    expect(plain.text).toBeUndefined();
    const ok = await client.screenshot({ url: `${pages.url}/ok`, includeText: true });
    expect(ok.text).toContain('Visible text');
    expect(ok).toMatchObject({ loginForm: null, textTruncated: false });
    const wall = await client.screenshot({
      url: `${pages.url}/login`,
      includeText: true,
      maxChars: 100,
    });
    expect(wall.loginForm).toBe('authelia'); // the fixture mimics Authelia's form
    expect(wall.text?.length).toBeLessThanOrEqual(101);
  });

  it('reads the DOM, the accessibility snapshot, the pressure and logs in', async () => {
    expect((await client.dom({ url: `${pages.url}/ok` })).text).toContain('Visible text');
    expect((await client.snapshot({ url: `${pages.url}/ok` })).snapshot).toContain('- button');
    const login = await client.login({
      url: `${pages.url}/login`,
      username: LOGIN_USER,
      password: LOGIN_PASSWORD,
    });
    expect(login.loginSucceeded).toBe(true);
    expect(await client.pressure()).toMatchObject({ running: 0, browserConnected: true });
  });

  it('throws failed pages as ApiError whose page failure pageFailureOf reads', async () => {
    const missing = await client.dom({ url: `${pages.url}/missing` }).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).status).toBe(502);
    expect(pageFailureOf(missing)).toMatchObject({ failure: 'http-status', status: 404 });

    const png = await client
      .screenshotPng({ url: 'http://169.254.169.254/' })
      .catch((err: unknown) => err);
    expect(pageFailureOf(png)).toMatchObject({ code: 'URL_REFUSED', failure: 'refused' });

    const unauthorized = await new BrowserClient({ baseUrl: browser.url, token: 'nope' })
      .pressure()
      .catch((err: unknown) => err);
    expect((unauthorized as ApiError).code).toBe('UNAUTHORIZED');
    expect(pageFailureOf(unauthorized)).toBeUndefined();
  });
});
