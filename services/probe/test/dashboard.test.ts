import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, resolveChromium } from '@datamancy/browser';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import {
  ADMIN,
  closedPort,
  manifestOf,
  READER,
  startTestProbe,
  type TestProbe,
} from './helpers.ts';

/**
 * The dashboard in real Chromium: log in with a token, see every service at a glance, open a
 * failing one and read its evidence. `DATAMANCY_DOCS_SCREENSHOTS=1` also refreshes the
 * screenshots under docs/images.
 */

const DOCS_IMAGES = fileURLToPath(new URL('../../../docs/images/', import.meta.url));

describe('dashboard in Chromium', () => {
  let web: FixtureServer;
  let probe: TestProbe;
  let browser: Browser;
  beforeAll(async () => {
    web = await startHttpFixture((req, res) => {
      if (req.url === '/ok')
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<title>OK</title><h1>Welcome</h1>');
      else
        res
          .writeHead(500, { 'content-type': 'text/html' })
          .end('<title>Oops</title><h1>Internal Server Error</h1>');
    });
    const dead = await closedPort();
    probe = await startTestProbe({
      manifest: manifestOf({
        defaults: { timeoutMs: 1000, retries: 0, thresholds: { failure: 1, success: 1 } },
        services: [
          {
            name: 'grafana',
            group: 'applications',
            checks: [{ kind: 'http', url: `${web.url}/ok`, keyword: 'Welcome' }],
          },
          {
            name: 'outline',
            group: 'applications',
            dependsOn: ['postgres'],
            checks: [{ kind: 'http', url: `${web.url}/ok` }],
          },
          {
            name: 'planka',
            group: 'applications',
            checks: [{ kind: 'http', url: `${web.url}/boom` }],
          },
          {
            name: 'synapse',
            group: 'applications',
            dependsOn: ['postgres'],
            checks: [{ kind: 'tcp', host: '127.0.0.1', port: dead }],
          },
          {
            name: 'postgres',
            group: 'databases',
            checks: [{ kind: 'tcp', host: '127.0.0.1', port: dead }],
          },
          { name: 'redis', group: 'databases', checks: [{ kind: 'http', url: `${web.url}/ok` }] },
        ],
      }),
      config: { dashboard: { trustedProxies: ['127.0.0.1'], adminGroups: ['admins'] } },
    });
    for (let i = 0; i < 6; i++) await probe.call('POST', '/start-stack-probe');
    browser = await chromium.launch({
      executablePath: resolveChromium(undefined),
      args: [...CHROMIUM_ARGS],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await probe?.stop();
    await web?.close();
  });

  it('logs in with a token, shows every state at a glance and the evidence of a failing check', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(`${probe.url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('input[name=token]', 'wrong-token-wrong-token-wrong');
    await page.click('button[type=submit]');
    await expect(page.locator('.error').textContent()).resolves.toContain('not valid');
    await page.fill('input[name=token]', ADMIN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${probe.url}/`);
    const cards = page.locator('a.card');
    await expect(cards.count()).resolves.toBe(6);
    await expect(page.locator('.card.s-down').count()).resolves.toBe(2);
    await expect(page.locator('.card.s-blocked').textContent()).resolves.toContain(
      'blocked by postgres',
    );
    await expect(page.locator('.summary').textContent()).resolves.toMatch(/6\s*services/);
    await expect(page.locator('svg.spark polyline').count()).resolves.toBeGreaterThan(0);
    if (process.env.DATAMANCY_DOCS_SCREENSHOTS === '1') {
      mkdirSync(DOCS_IMAGES, { recursive: true });
      const shot = join(probe.dataDir, 'overview.png');
      await page.screenshot({ path: shot, fullPage: true });
      copyFileSync(shot, join(DOCS_IMAGES, 'probe-dashboard.png'));
    }

    await page.click('a.card:has-text("planka")');
    await page.waitForURL(`${probe.url}/ui/services/planka`);
    const evidence = page.locator('details[open]').first();
    await expect(evidence.textContent()).resolves.toContain('status 500, expected 200-399');
    await expect(evidence.textContent()).resolves.toContain('Internal Server Error');
    await expect(
      page.locator('h2:has-text("State history") + table').textContent(),
    ).resolves.toContain('pending');
    if (process.env.DATAMANCY_DOCS_SCREENSHOTS === '1') {
      const shot = join(probe.dataDir, 'service.png');
      await page.screenshot({ path: shot, fullPage: true });
      copyFileSync(shot, join(DOCS_IMAGES, 'probe-service.png'));
    }
    // an admin may probe on demand from the page
    await page.click('button:has-text("Probe now")');
    await page.waitForURL(`${probe.url}/ui/services/planka`);
    await page.click('button:has-text("Log out")');
    await page.waitForURL(`${probe.url}/login`);
    await context.close();
  });

  it('believes SSO headers only from a trusted proxy, and a reader cannot act', async () => {
    const asSso = await fetch(`${probe.url}/`, {
      headers: { 'remote-user': 'alice', 'remote-groups': 'staff', accept: 'text/html' },
    });
    expect(asSso.status).toBe(200);
    expect(await asSso.text()).toContain('sso:alice');
    const page = await fetch(`${probe.url}/ui/services/planka`, {
      headers: { 'remote-user': 'alice', 'remote-groups': 'staff' },
    });
    expect(await page.text()).not.toContain('Probe now');
    const act = await fetch(`${probe.url}/services/planka/probe`, {
      method: 'POST',
      headers: { 'remote-user': 'alice', 'remote-groups': 'staff' },
    });
    expect(act.status).toBe(403);
    const admin = await fetch(`${probe.url}/services/planka/probe`, {
      method: 'POST',
      headers: { 'remote-user': 'bob', 'remote-groups': 'staff,admins' },
    });
    expect(admin.status).toBe(200);
    const reader = await probe.call('POST', '/services/planka/probe', undefined, READER);
    expect(reader.status).toBe(403);
    // a cross-site form post is refused even with a valid session
    const login = await fetch(`${probe.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(ADMIN)}`,
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? '';
    expect(login.headers.get('set-cookie')).toMatch(
      /HttpOnly.*SameSite=Strict|SameSite=Strict.*HttpOnly/i,
    );
    const forged = await fetch(`${probe.url}/ui/services/planka/probe`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
      redirect: 'manual',
    });
    expect(forged.status).toBe(403);
    const tampered = await fetch(`${probe.url}/services`, { headers: { cookie: `${cookie}x` } });
    expect(tampered.status).toBe(401);
  });

  it('ignores SSO headers from an untrusted address', async () => {
    const untrusted = await startTestProbe({
      manifest: manifestOf({
        services: [{ name: 'a', checks: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }] }],
      }),
    });
    try {
      const res = await fetch(`${untrusted.url}/services`, {
        headers: { 'remote-user': 'mallory', 'remote-groups': 'admins' },
      });
      expect(res.status).toBe(401);
    } finally {
      await untrusted.stop();
    }
  });
});
