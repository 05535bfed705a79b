import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureServer } from '@datamancy/testkit';
import { startPages } from './fixtures.ts';
import { ADMIN, PNG_MAGIC, startTestBrowser, type ErrorBody, type TestBrowser } from './helpers.ts';

interface PageBody {
  ok: boolean;
  status: number;
  finalUrl: string;
  title: string;
  timing: { queuedMs: number; navigationMs: number; totalMs: number };
  [key: string]: unknown;
}

describe('browser service against real Chromium', () => {
  let pages: FixtureServer;
  let browser: TestBrowser;
  beforeAll(async () => {
    pages = await startPages();
    browser = await startTestBrowser({ maxChars: 2_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  it('screenshots a page as JSON with status, final URL, title, timing and a base64 PNG', async () => {
    const res = await browser.post('/screenshot', {
      url: `${pages.url}/redirect-ok`,
      viewport: { width: 640, height: 480 },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as PageBody & { image: string; imageBytes: number };
    expect(body).toMatchObject({
      ok: true,
      status: 200,
      finalUrl: `${pages.url}/ok`,
      title: 'Fixture OK',
      viewport: { width: 640, height: 480 },
    });
    const png = Buffer.from(body.image, 'base64');
    expect(png.subarray(0, 8)).toEqual(PNG_MAGIC);
    expect(png.length).toBe(body.imageBytes);
    expect(png.readUInt32BE(16)).toBe(640); // IHDR width
    expect(body.timing.totalMs).toBeGreaterThanOrEqual(body.timing.navigationMs);
  });

  it('answers the bare PNG when asked with Accept: image/png', async () => {
    const res = await browser.post(
      '/screenshot',
      { url: `${pages.url}/ok`, fullPage: true },
      { accept: 'image/png' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-page-status')).toBe('200');
    expect(res.headers.get('x-final-url')).toBe(`${pages.url}/ok`);
    const png = Buffer.from(await res.arrayBuffer());
    expect(png.subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it('screenshots only the element a selector names', async () => {
    const res = await browser.post('/screenshot', { url: `${pages.url}/ok`, selector: 'button' });
    const body = (await res.json()) as { image: string };
    const png = Buffer.from(body.image, 'base64');
    expect(png.readUInt32BE(16)).toBeLessThan(200); // a button, not the 1280-pixel viewport
  });

  it('returns the HTML and only the visible text of a page', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/ok` });
    const body = (await res.json()) as PageBody & Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body.text).toContain('Hello from the fixture');
    expect(body.text).not.toContain('hidden words');
    expect(body.html).toContain('<div style="display:none">hidden words</div>');
    expect(body).toMatchObject({ htmlTruncated: false, textTruncated: false, title: 'Fixture OK' });
  });

  it('cuts text and HTML at maxChars and says so', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/long`, maxChars: 500 });
    const body = (await res.json()) as Record<string, unknown> & { text: string; html: string };
    expect(body.textTruncated).toBe(true);
    expect(body.htmlTruncated).toBe(true);
    expect(body.text.length).toBeLessThanOrEqual(500);
    expect(body.textChars).toBeGreaterThan(500);
    expect(body.text).not.toMatch(/[\ud800-\udbff]$/); // no half of a surrogate pair
  });

  it('reads one element of the DOM when given a selector', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/ok`, selector: '#intro' });
    const body = (await res.json()) as { html: string; text: string };
    expect(body.html).toMatch(/^<p id="intro">/);
    expect(body.text).toBe('Visible text home');
  });

  it('gives the accessibility tree as indented text, cut at a line end within budget', async () => {
    const full = await browser.post('/snapshot', { url: `${pages.url}/ok` });
    const body = (await full.json()) as { snapshot: string; truncated: boolean; format: string };
    expect(body.format).toBe('aria-yaml');
    expect(body.snapshot).toContain('- heading "Hello from the fixture" [level=1]');
    expect(body.snapshot).toContain('- button "Press"');
    expect(body.truncated).toBe(false);

    const cut = await browser.post('/snapshot', { url: `${pages.url}/long`, maxChars: 300 });
    const small = (await cut.json()) as { snapshot: string; truncated: boolean; chars: number };
    expect(small.truncated).toBe(true);
    expect(small.snapshot.length).toBeLessThanOrEqual(300);
    expect(small.chars).toBeGreaterThan(300);
    expect(small.snapshot.split('\n').every((line) => /^\s*- /.test(line))).toBe(true);
  });

  it('rejects an invalid body with 400 naming the failing field', async () => {
    const res = await browser.post('/screenshot', {
      url: `${pages.url}/ok`,
      viewport: { width: 10, height: 480 },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.issues?.map((i) => i.path)).toEqual(['viewport.width']);

    const scheme = await browser.post('/dom', { url: 'file:///etc/passwd' });
    expect(((await scheme.json()) as ErrorBody).error.issues?.[0]?.path).toBe('url');
    const timeout = await browser.post('/dom', { url: `${pages.url}/ok`, timeoutMs: 600_001 });
    expect(((await timeout.json()) as ErrorBody).error.issues?.[0]?.path).toBe('timeoutMs');
  });

  it('rejects a selector that is not CSS with 400 on the selector field', async () => {
    const res = await browser.post('/dom', { url: `${pages.url}/ok`, selector: 'div[' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.issues?.[0]?.path).toBe('selector');
  });

  it('needs a bearer token on every route but /healthz, which reports the browser', async () => {
    const anonymous = await fetch(`${browser.url}/dom`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const health = await fetch(`${browser.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ service: 'browser', browserConnected: true });
    const wrong = await fetch(`${browser.url}/pressure`, {
      headers: { authorization: `Bearer ${ADMIN}x` },
    });
    expect(wrong.status).toBe(401);
  });

  it('reports pressure and exports browser metrics', async () => {
    const pressure = (await (await browser.get('/pressure')).json()) as Record<string, unknown>;
    expect(pressure).toMatchObject({
      running: 0,
      queued: 0,
      maxConcurrency: 2,
      maxQueue: 16,
      browserConnected: true,
      openContexts: 0,
    });
    expect(pressure.served).toBeGreaterThan(0);
    const metrics = await (await browser.get('/metrics')).text();
    for (const family of [
      'browser_pages_in_flight',
      'browser_queue_depth',
      'browser_navigation_duration_seconds_bucket',
      'browser_relaunches_total',
      'browser_jobs_total{',
    ]) {
      expect(metrics).toContain(family);
    }
  });
});
