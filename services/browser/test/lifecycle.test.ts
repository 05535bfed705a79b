import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureServer } from '@datamancy/testkit';
import { startPages } from './fixtures.ts';
import {
  browserPid,
  chromiumProcesses,
  startTestBrowser,
  waitFor,
  type TestBrowser,
} from './helpers.ts';

/**
 * The figure: 200 requests, 150 healthy and 50 failures of four kinds, at concurrency 2.
 * Each page job costs Chromium about 0.4 s of CPU (a fresh browser context and renderer per
 * job), so this test takes about 60 s on two cores (measured here: 59 s; 2 min while the
 * machine was busy with other work).
 */
function workload(pagesUrl: string, closedUrl: string): { path: string; body: object }[] {
  const viewport = { width: 320, height: 240 };
  const healthy = ['/screenshot', '/dom', '/snapshot'].map((path) => ({
    path,
    body: { url: `${pagesUrl}/ok`, viewport },
  }));
  const failing = [
    { path: '/dom', body: { url: `${pagesUrl}/missing` } },
    { path: '/screenshot', body: { url: closedUrl } },
    { path: '/dom', body: { url: `${pagesUrl}/redirect-metadata` } },
    { path: '/snapshot', body: { url: `${pagesUrl}/hang`, timeoutMs: 300 } },
  ];
  const jobs: { path: string; body: object }[] = [];
  for (let i = 0; i < 200; i++) {
    // every fourth request fails, cycling through the failure kinds
    jobs.push(i % 4 === 3 ? failing[(i >> 2) % 4]! : healthy[i % 3]!);
  }
  return jobs;
}

describe('Chromium lifecycle: no leaked contexts or processes, relaunch, clean shutdown', () => {
  let pages: FixtureServer;
  let browser: TestBrowser;
  beforeAll(async () => {
    pages = await startPages();
    browser = await startTestBrowser({ maxConcurrency: 2, maxQueue: 200 });
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  it('serves 200 mixed requests at concurrency 2 and ends with no open context and no extra process', async () => {
    await browser.post('/dom', { url: `${pages.url}/ok` }); // warm: renderer and network service up
    await waitFor(() => browser.browser.openContexts() === 0);
    const baseline = chromiumProcesses().length;
    expect(baseline).toBeGreaterThan(0);

    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, chromiumProcesses().length);
    }, 100);
    const statuses: number[] = [];
    const jobs = workload(pages.url, 'http://127.0.0.1:1/');
    try {
      // two clients, each sending its next request when the last one answered
      await Promise.all(
        [0, 1].map(async (lane) => {
          for (let i = lane; i < jobs.length; i += 2) {
            const job = jobs[i]!;
            const res = await browser.post(job.path, job.body);
            await res.arrayBuffer();
            statuses.push(res.status);
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const count = (status: number) => statuses.filter((s) => s === status).length;
    expect(statuses).toHaveLength(200);
    expect(count(200)).toBe(150);
    expect(count(502) + count(403) + count(504)).toBe(50);
    expect(count(504)).toBe(12);
    expect(browser.browser.openContexts()).toBe(0);
    // renderers of closed contexts go away; allow one spare renderer Chromium may keep warm
    await waitFor(() => chromiumProcesses().length <= baseline + 1, 10_000);
    // Renderers of closed contexts exit asynchronously, so a few linger under load; a leak of
    // one process per job would instead reach into the hundreds.
    expect(peak).toBeLessThanOrEqual(baseline + 12);
  }, 240_000);

  it('relaunches Chromium after it is killed and serves the next request', async () => {
    const pid = browserPid();
    expect(pid).toBeDefined();
    process.kill(Number(pid), 'SIGKILL');
    await waitFor(() => !browser.browser.connected);
    const res = await browser.post('/dom', { url: `${pages.url}/ok` });
    expect(res.status).toBe(200);
    expect(browser.browser.connected).toBe(true);
    expect(browser.browser.relaunches).toBe(1);
    expect(browserPid()).not.toBe(pid);
    const metrics = await (await browser.get('/metrics')).text();
    expect(metrics).toMatch(/^browser_relaunches_total\{[^}]*\} 1$/m);
  });

  it('leaves no Chromium process behind after close()', async () => {
    expect(chromiumProcesses().length).toBeGreaterThan(0);
    await browser.close();
    await waitFor(() => chromiumProcesses().length === 0, 10_000);
    const health = await fetch(`${browser.url}/healthz`).catch((err: unknown) => err);
    expect(health).toBeInstanceOf(Error); // the listener is gone too
  });
});
