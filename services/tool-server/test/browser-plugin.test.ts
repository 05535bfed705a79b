import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSilentLogger,
  createSsrfGuard,
  DEFAULT_ALLOW_HOSTS,
  generateToken,
  openSqliteStore,
  TokenRegistry,
} from '@datamancy/core';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { createApp } from '../src/app.ts';
import { AuditLog } from '../src/audit/audit-log.ts';
import { ToolServerConfigSchema } from '../src/config.ts';
import { browserPlugin } from '../src/plugins/browser/index.ts';
import { loadPlugins, type RegistryEntry } from '../src/runtime/loader.ts';
import { ADMIN, postJson } from './helpers.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PASSWORD = 'tool-server-login-secret-41';

/** The real browser service, as `tsx services/browser/src/main.ts` runs it, on a free port. */
async function startBrowserChild(token: string, dataDir: string) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATAMANCY_API_TOKEN: token,
    DATAMANCY_DATA_DIR: dataDir,
    BROWSER_PORT: '0',
    BROWSER_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  };
  delete env.DATAMANCY_CONFIG;
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/browser/src/main.ts'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('browser service did not start')), 30_000);
    child.once('exit', (code) => reject(new Error(`browser service exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'browser listening' && entry.url !== undefined) {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
  });
  return { child, url };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function toolServer(config: Record<string, unknown>) {
  const toolConfig = ToolServerConfigSchema.parse({});
  const logger = createSilentLogger();
  const catalog = loadPlugins([{ plugin: browserPlugin as RegistryEntry['plugin'], config }], {
    allowCaps: new Set(['host.network.http']),
    hostVersion: '0.1.0',
    logger,
  });
  const { app } = createApp({
    config: toolConfig,
    llm: { model: 'default', embeddingModel: 'embed', timeoutMs: 1000, maxSteps: 1 },
    logger,
    tokens: new TokenRegistry(ADMIN),
    catalog,
    audit: await AuditLog.open(openSqliteStore(':memory:')),
    guard: createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS }),
  });
  return { app, catalog };
}

describe('browser plugin against the real browser service', () => {
  const token = generateToken();
  const dir = mkdtempSync(join(tmpdir(), 'browser-plugin-'));
  const proofsDir = join(dir, 'proofs');
  let pages: FixtureServer;
  let service: Awaited<ReturnType<typeof startBrowserChild>>;
  let app: Awaited<ReturnType<typeof toolServer>>['app'];
  const call = async (name: string, args: Record<string, unknown>) => {
    const res = await app.request('/call-tool', postJson(ADMIN, { name, args }));
    return {
      status: res.status,
      body: (await res.json()) as {
        result: Record<string, unknown>;
        error: Record<string, unknown>;
      },
    };
  };

  beforeAll(async () => {
    pages = await startHttpFixture((req, res) => {
      const html = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'text/html' });
        res.end(`<!doctype html>${body}`);
      };
      if (req.url === '/ok') return html(200, '<title>Status</title><h1>All systems go</h1>');
      if (req.url === '/login' && req.method === 'POST') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const ok = new URLSearchParams(body).get('password') === PASSWORD;
          res.writeHead(ok ? 302 : 401, ok ? { location: '/ok' } : { 'content-type': 'text/html' });
          res.end(ok ? '' : '<title>Login</title><input id="password-textfield" type="password">');
        });
        return;
      }
      if (req.url === '/login') {
        return html(
          200,
          `<title>Login</title><form method="post" action="/login">
           <input id="username-textfield" name="username"><input id="password-textfield" name="password" type="password">
           <button id="sign-in-button" type="submit">Sign in</button></form>`,
        );
      }
      html(404, '<title>Gone</title><h1>404</h1>');
    });
    service = await startBrowserChild(token, dir);
    ({ app } = await toolServer({ url: service.url, token, proofsDir }));
  });
  afterAll(async () => {
    if (service !== undefined) await stop(service.child);
    await pages?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('browser_screenshot saves the PNG under proofsDir and returns its path, not the bytes', async () => {
    const { status, body } = await call('browser_screenshot', { url: `${pages.url}/ok` });
    expect(status).toBe(200);
    expect(body.result).toMatchObject({ ok: true, status: 200, title: 'Status' });
    expect(body.result.image_base64).toBeUndefined();
    expect(String(body.result.proofPath).startsWith(proofsDir)).toBe(true);
    const file = readFileSync(String(body.result.proofPath));
    expect(file.subarray(0, 8)).toEqual(PNG_MAGIC);
    expect(file.length).toBe(body.result.bytes);

    const inline = await call('browser_screenshot', {
      url: `${pages.url}/ok`,
      include_base64: true,
    });
    expect(Buffer.from(String(inline.body.result.image_base64), 'base64').subarray(0, 8)).toEqual(
      PNG_MAGIC,
    );
  });

  it('browser_dom and browser_snapshot return the page text and accessibility tree', async () => {
    const dom = await call('browser_dom', { url: `${pages.url}/ok` });
    expect(dom.body.result).toMatchObject({ text: 'All systems go', textTruncated: false });
    expect(dom.body.result.html).toBeUndefined();
    const snap = await call('browser_snapshot', { url: `${pages.url}/ok` });
    expect(snap.body.result.snapshot).toContain('- heading "All systems go" [level=1]');
  });

  it('browser_login signs in through the Authelia-style form and saves a proof', async () => {
    const { body } = await call('browser_login', {
      url: `${pages.url}/login`,
      username: 'alice',
      password: PASSWORD,
    });
    expect(body.result).toMatchObject({
      loginFormDetected: true,
      loginSucceeded: true,
      finalUrl: `${pages.url}/ok`,
    });
    expect(readFileSync(String(body.result.proofPath)).subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it('turns a 404 page into a 502 tool error that keeps the status and saves the error page', async () => {
    const { status, body } = await call('browser_screenshot', { url: `${pages.url}/gone` });
    expect(status).toBe(502);
    expect(body.error).toMatchObject({
      code: 'UPSTREAM_ERROR',
      ok: false,
      failure: 'http-status',
      status: 404,
      title: 'Gone',
    });
    expect(body.error.image).toBeUndefined();
    expect(readFileSync(String(body.error.proofPath)).subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it('refuses a metadata URL in the tool server before calling the browser service', async () => {
    const { status, body } = await call('browser_dom', { url: 'http://169.254.169.254/' });
    expect(status).toBe(403);
    expect(body.error).toMatchObject({ code: 'URL_REFUSED', reason: 'denied-address' });
  });

  it('reports an unreachable browser service as 502 UPSTREAM_ERROR', async () => {
    const { app: lonely } = await toolServer({ url: 'http://127.0.0.1:1', token, proofsDir });
    const res = await lonely.request(
      '/call-tool',
      postJson(ADMIN, { name: 'browser_dom', args: { url: `${pages.url}/ok` } }),
    );
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /cannot reach the browser service/,
    );
  });

  it('is skipped, with the reason, when it has no token', async () => {
    const { catalog } = await toolServer({ proofsDir });
    expect(catalog.plugins[0]).toMatchObject({ id: 'browser', loaded: false });
    expect(catalog.plugins[0]?.reason).toMatch(/no token/);
    expect(catalog.tools.size).toBe(0);
  });
});
