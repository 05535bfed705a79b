import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureServer } from '@datamancy/testkit';
import { startPages } from './fixtures.ts';
import { ADMIN, startTestBrowser, waitFor, type ErrorBody, type TestBrowser } from './helpers.ts';

interface Pressure {
  running: number;
  queued: number;
  rejected: number;
  served: number;
}

describe('bounded concurrency with a FIFO queue (maxConcurrency 1, maxQueue 1)', () => {
  let pages: FixtureServer;
  let browser: TestBrowser;
  const pressure = async () => (await (await browser.get('/pressure')).json()) as Pressure;
  beforeAll(async () => {
    pages = await startPages();
    browser = await startTestBrowser({ maxConcurrency: 1, maxQueue: 1 });
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  it('runs one, queues one and answers the third 429 RATE_LIMITED with Retry-After', async () => {
    const slow = (ms: number) => browser.post('/dom', { url: `${pages.url}/slow?ms=${ms}` });
    const first = slow(1_200);
    await waitFor(() => browser.browser.openContexts() === 1);
    const second = slow(100);
    await waitFor(async () => (await pressure()).queued === 1);
    expect(await pressure()).toMatchObject({ running: 1, queued: 1 });
    const third = await slow(100);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await third.json()) as ErrorBody).error.code).toBe('RATE_LIMITED');
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(await pressure()).toMatchObject({ running: 0, queued: 0, rejected: 1, served: 2 });
  });

  it('lets a queued request whose client disconnects leave the queue without taking a page', async () => {
    const served = (await pressure()).served;
    const holder = browser.post('/dom', { url: `${pages.url}/slow?ms=800` });
    await waitFor(() => browser.browser.openContexts() === 1);
    const controller = new AbortController();
    const leaving = fetch(`${browser.url}/dom`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${pages.url}/ok` }),
      signal: controller.signal,
    }).catch((err: unknown) => err);
    await waitFor(async () => (await pressure()).queued === 1);
    controller.abort();
    await leaving;
    await waitFor(async () => (await pressure()).queued === 0);
    expect((await holder).status).toBe(200);
    const after = await pressure();
    expect(after.served).toBe(served + 1); // the one that left never ran
    expect(pages.hits.filter((h) => h === '/ok')).toHaveLength(0);
  });
});
