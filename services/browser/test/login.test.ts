import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@datamancy/core';
import type { FixtureServer } from '@datamancy/testkit';
import { LOGIN_PASSWORD, LOGIN_USER, startPages } from './fixtures.ts';
import { PNG_MAGIC, startTestBrowser, type TestBrowser } from './helpers.ts';

interface LoginBody {
  ok: boolean;
  status: number;
  finalUrl: string;
  title: string;
  loginFormDetected: boolean;
  loginSucceeded: boolean;
  form: string | null;
  signals: Record<string, unknown>;
  image: string;
  proofPath?: string;
}

const WRONG_PASSWORD = 'wrong-password-9c1e';

describe('form login (a local Authelia-like page)', () => {
  let pages: FixtureServer;
  let browser: TestBrowser;
  let proofs: string;
  const logLines: string[] = [];
  const login = async (body: Record<string, unknown>) => {
    const res = await browser.post('/login', { username: LOGIN_USER, ...body });
    expect(res.status).toBe(200);
    return (await res.json()) as LoginBody;
  };
  beforeAll(async () => {
    pages = await startPages();
    proofs = mkdtempSync(join(tmpdir(), 'browser-proofs-'));
    const logger = createLogger({
      level: 'trace',
      destination: { write: (line: string) => void logLines.push(line) },
    });
    browser = await startTestBrowser({ proofsDir: proofs }, logger);
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    rmSync(proofs, { recursive: true, force: true });
  });

  it("signs in through Authelia's field ids and lands on the welcome page", async () => {
    const body = await login({ url: `${pages.url}/login`, password: LOGIN_PASSWORD });
    expect(body).toMatchObject({
      ok: true,
      loginFormDetected: true,
      loginSucceeded: true,
      form: 'authelia',
      finalUrl: `${pages.url}/welcome`,
      title: 'Welcome',
      signals: { passwordFieldGone: true, urlChanged: true, statusAfterSubmit: 200 },
    });
    expect(Buffer.from(body.image, 'base64').subarray(0, 8)).toEqual(PNG_MAGIC);
    expect(body.proofPath?.startsWith(proofs)).toBe(true);
    expect(readFileSync(body.proofPath ?? '').subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it('reports a wrong password as a detected form and a failed login', async () => {
    const body = await login({ url: `${pages.url}/login`, password: WRONG_PASSWORD });
    expect(body).toMatchObject({
      ok: true,
      loginFormDetected: true,
      loginSucceeded: false,
      signals: { passwordFieldGone: false, statusAfterSubmit: 401 },
    });
  });

  it('finds a generic password form when the Authelia ids are absent', async () => {
    const body = await login({ url: `${pages.url}/generic-login`, password: LOGIN_PASSWORD });
    expect(body).toMatchObject({ form: 'generic', loginSucceeded: true, title: 'Welcome' });
  });

  it('judges by the success selector and URL pattern when given', async () => {
    const good = await login({
      url: `${pages.url}/login`,
      password: LOGIN_PASSWORD,
      successSelector: '#welcome',
      successUrlPattern: '/welcome$',
    });
    expect(good.loginSucceeded).toBe(true);
    expect(good.signals).toMatchObject({ successSelectorFound: true, successUrlMatched: true });
    const wrongPlace = await login({
      url: `${pages.url}/login`,
      password: LOGIN_PASSWORD,
      successUrlPattern: '/dashboard$',
    });
    expect(wrongPlace.loginSucceeded).toBe(false);
  });

  it('uses the given selectors for a custom form', async () => {
    const body = await login({
      url: `${pages.url}/generic-login`,
      password: LOGIN_PASSWORD,
      selectors: { username: 'input[name=user]', password: 'input[name=pass]' },
    });
    expect(body).toMatchObject({ form: 'custom', loginSucceeded: true });
  });

  it('says no login form was found on a page without one', async () => {
    const body = await login({
      url: `${pages.url}/ok`,
      password: LOGIN_PASSWORD,
      timeoutMs: 2_000,
    });
    expect(body).toMatchObject({ ok: true, loginFormDetected: false, loginSucceeded: false });
  });

  it('rejects a successUrlPattern that is not a regular expression', async () => {
    const res = await browser.post('/login', {
      url: `${pages.url}/login`,
      username: LOGIN_USER,
      password: LOGIN_PASSWORD,
      successUrlPattern: '(',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain(LOGIN_PASSWORD);
  });

  it('never writes a password to the log', () => {
    const log = logLines.join('');
    expect(log).toContain('"path":"/login"'); // the access log saw every request
    expect(log).not.toContain(LOGIN_PASSWORD);
    expect(log).not.toContain(WRONG_PASSWORD);
    expect(existsSync(proofs)).toBe(true);
  });
});
