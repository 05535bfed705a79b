import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrowserConfigSchema,
  startBrowserService,
  type RunningBrowserService,
} from '@datamancy/browser';
import { CommonConfigSchema, createSilentLogger, TokenRegistry } from '@datamancy/core';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { tesseractOcr } from '../src/checks/ocr.ts';
import {
  ADMIN,
  closedPort,
  manifestOf,
  startTestProbe,
  type Json,
  type TestProbe,
} from './helpers.ts';

/**
 * Browser checks against the real browser service (Chromium through its guard proxy, in this
 * process) and real loopback pages: a healthy page, a proxy's error page served with 200, a
 * 404, a refused port, an SSO login wall, a blank page, an error drawn only on a canvas (read
 * by tesseract), and the browser service itself gone.
 */

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const page = (title: string, body: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const PAGES: Record<string, { status: number; html: string }> = {
  '/ok': { status: 200, html: page('Wiki', '<h1>Welcome to the wiki</h1><p>All is well.</p>') },
  '/fake-ok': {
    status: 200,
    html: page('Gateway', '<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>'),
  },
  '/missing': { status: 404, html: page('Not Found', '<h1>Nothing here</h1>') },
  '/login': {
    status: 200,
    html: page(
      'Login - Authelia',
      `<form><h1>Sign in</h1>
        <input id="username-textfield" type="text" autocomplete="username">
        <input id="password-textfield" type="password" autocomplete="current-password">
        <button id="sign-in-button" type="submit">Sign in</button></form>`,
    ),
  },
  '/blank': { status: 200, html: '<!doctype html><html><head></head><body></body></html>' },
  '/canvas': {
    status: 200,
    // no title, no DOM text: only pixels, so the page is not blank only thanks to OCR
    html: page(
      '',
      `<canvas id="c" width="900" height="200"></canvas>
      <script>
        const ctx = document.getElementById('c').getContext('2d');
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, 900, 200);
        ctx.fillStyle = '#000';
        ctx.font = '48px sans-serif';
        ctx.fillText('Internal Server Error', 40, 110);
      </script>`,
    ),
  },
};

let web: FixtureServer;
let browser: RunningBrowserService;
let browserClosed = false;
let browserDir: string;
let probe: TestProbe;
let deadPort: number;

beforeAll(async () => {
  web = await startHttpFixture((req, res) => {
    const found = PAGES[req.url ?? ''];
    if (found === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(found.status, { 'content-type': 'text/html; charset=utf-8' }).end(found.html);
  });
  deadPort = await closedPort();
  browserDir = mkdtempSync(join(tmpdir(), 'dm-probe-browser-'));
  browser = await startBrowserService({
    common: CommonConfigSchema.parse({ dataDir: browserDir }),
    config: BrowserConfigSchema.parse({ host: '127.0.0.1', port: 0 }),
    logger: createSilentLogger(),
    tokens: new TokenRegistry(ADMIN),
  });
  const check = (url: string, extra: Record<string, unknown> = {}) => ({
    kind: 'browser' as const,
    url,
    ...extra,
  });
  probe = await startTestProbe({
    manifest: manifestOf({
      defaults: { timeoutMs: 15_000, retries: 0, thresholds: { failure: 1, success: 1 } },
      services: [
        { name: 'wiki', checks: [check(`${web.url}/ok`, { expectText: 'welcome to the wiki' })] },
        { name: 'liar', checks: [check(`${web.url}/fake-ok`)] },
        { name: 'missing', checks: [check(`${web.url}/missing`)] },
        { name: 'refused', checks: [check(`http://127.0.0.1:${deadPort}/`)] },
        { name: 'walled', checks: [check(`${web.url}/login`)] },
        { name: 'sso', checks: [check(`${web.url}/login`, { loginWall: 'pass' })] },
        { name: 'blank', checks: [check(`${web.url}/blank`)] },
        {
          name: 'canvas',
          checks: [check(`${web.url}/canvas`, { ocr: true, timeoutMs: 30_000 })],
        },
        { name: 'late', checks: [check(`${web.url}/ok`)] },
      ],
    }),
    config: { browser: { url: browser.server.url, token: ADMIN } },
    ocr: tesseractOcr(),
  });
}, 60_000);

afterAll(async () => {
  await probe?.stop();
  if (!browserClosed) await browser?.close();
  await web?.close();
  if (browserDir !== undefined) rmSync(browserDir, { recursive: true, force: true });
});

/** The proof is a file under the proofs directory and served as a PNG. */
async function expectProof(evidence: Json): Promise<void> {
  const file = evidence.proof as string;
  expect(file).toMatch(/^[0-9a-f]{64}\.png$/);
  expect(existsSync(join(probe.proofs.dir, file))).toBe(true);
  const res = await fetch(`${probe.url}/proofs/${file}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
}

describe('browser checks through the real browser service', () => {
  let services: Json[];
  const by = (name: string): Json => services.find((s: Json) => s.name === name);
  const evidenceOf = (name: string): Json => by(name).checks[0].evidence;

  beforeAll(async () => {
    const { status, body } = await probe.call('POST', '/start-stack-probe', {
      services: ['wiki', 'liar', 'missing', 'refused', 'walled', 'sso', 'blank', 'canvas'],
    });
    expect(status).toBe(200);
    services = body.services as Json[];
  }, 60_000);

  it('calls a healthy page with its expected text up, with a screenshot proof', async () => {
    expect(by('wiki')).toMatchObject({ state: 'up', outcome: 'pass' });
    const evidence = evidenceOf('wiki');
    expect(evidence).toMatchObject({
      reasons: [],
      httpStatus: 200,
      title: 'Wiki',
      loginWall: false,
    });
    expect(evidence.textExcerpt).toContain('Welcome to the wiki');
    expect(evidence.signatures).toBeUndefined();
    await expectProof(evidence);
  });

  it('calls a 200 page that renders "502 Bad Gateway" down by its signature', async () => {
    expect(by('liar')).toMatchObject({ state: 'down', outcome: 'fail' });
    const evidence = evidenceOf('liar');
    expect(evidence.httpStatus).toBe(200);
    expect(evidence.signatures[0]).toMatchObject({ id: 'bad-gateway' });
    expect(evidence.reasons[0]).toMatch(/error page: 502 Bad Gateway/);
    await expectProof(evidence);
  });

  it('calls a 404 page down with its status, keeping the error page as proof', async () => {
    expect(by('missing')).toMatchObject({ state: 'down', outcome: 'fail' });
    const evidence = evidenceOf('missing');
    expect(evidence.httpStatus).toBe(404);
    expect(evidence.reasons[0]).toMatch(/404/);
    await expectProof(evidence);
  });

  it('calls a refused port down with the network error', () => {
    expect(by('refused')).toMatchObject({ state: 'down', outcome: 'fail' });
    const evidence = evidenceOf('refused');
    expect(evidence.httpStatus).toBeUndefined();
    expect(evidence.error.code).toBeTruthy();
    expect(`${evidence.error.message as string} ${evidence.reasons[0] as string}`).toMatch(
      /refused/i,
    );
  });

  it('calls an SSO login wall down by default and up where the wall is expected', async () => {
    expect(by('walled')).toMatchObject({ state: 'down', outcome: 'fail' });
    const walled = evidenceOf('walled');
    expect(walled.loginWall).toBe(true);
    expect(walled.reasons[0]).toMatch(/^SSO login page \(authelia\)/);
    await expectProof(walled);
    expect(by('sso')).toMatchObject({ state: 'up', outcome: 'pass' });
    expect(evidenceOf('sso')).toMatchObject({ reasons: [], loginWall: true });
    expect(by('sso').checks[0].message).toMatch(/login wall, expected/);
  });

  it('calls a blank page down', async () => {
    expect(by('blank')).toMatchObject({ state: 'down', outcome: 'fail' });
    const evidence = evidenceOf('blank');
    expect(evidence.reasons).toContain('blank page: no title, no text');
    await expectProof(evidence);
  });

  it('reads an error drawn only on a canvas with OCR', async () => {
    expect(by('canvas')).toMatchObject({ state: 'down', outcome: 'fail' });
    const evidence = evidenceOf('canvas');
    // nothing in the DOM's text says so: only the pixels do
    expect(evidence).toMatchObject({ title: '', textExcerpt: '' });
    expect(evidence.reasons).toEqual(['error page: Internal Server Error']);
    expect(evidence.ocrExcerpt).toMatch(/internal server error/i);
    expect(evidence.signatures).toEqual([expect.objectContaining({ id: 'internal-server-error' })]);
    await expectProof(evidence);
  });

  it('serves the judged states from GET /services', async () => {
    const { body } = await probe.call('GET', '/services');
    const state = (name: string): string =>
      (body.services as Json[]).find((s: Json) => s.name === name).state as string;
    expect(state('wiki')).toBe('up');
    expect(state('liar')).toBe('down');
    expect(state('late')).toBe('pending');
  });
});

describe('the browser service gone', () => {
  it('makes browser checks unknown and leaves every state as it was', async () => {
    await browser.close();
    browserClosed = true;
    const wiki = await probe.call('POST', '/services/wiki/probe');
    expect(wiki.status).toBe(200);
    expect(wiki.body).toMatchObject({ state: 'up', outcome: null, alert: false });
    expect(wiki.body.transition).toBeUndefined();
    expect(wiki.body.checks[0].status).toBe('unknown');
    expect(wiki.body.checks[0].evidence.error.code).toBe('UNREACHABLE');
    expect(wiki.body.checks[0].evidence.reasons[0]).toMatch(/^browser service: UNREACHABLE/);

    const liar = await probe.call('POST', '/services/liar/probe');
    expect(liar.body).toMatchObject({ state: 'down', outcome: null });
    expect(liar.body.checks[0].status).toBe('unknown');

    const late = await probe.call('POST', '/services/late/probe');
    expect(late.body).toMatchObject({ state: 'pending', outcome: null });
    expect(late.body.checks[0].status).toBe('unknown');
  });
});
