import { describe, expect, it } from 'vitest';
import {
  AppError,
  createServiceApp,
  createSilentLogger,
  generateToken,
  requireScope,
  TokenRegistry,
} from '../src/index.ts';

const admin = generateToken();
const reader = generateToken();
const scraper = generateToken();

function build() {
  const { app } = createServiceApp({
    service: 'test',
    version: '1.2.3',
    logger: createSilentLogger(),
    tokens: new TokenRegistry(admin, [
      { name: 'reader', token: reader, scopes: ['host.docker.inspect'] },
      { name: 'prometheus', token: scraper, scopes: ['metrics.read'], kind: 'service' },
    ]),
  });
  app.get('/boom', () => {
    throw new Error('secret internals /etc/passwd');
  });
  app.get('/teapot', () => {
    throw new AppError('RATE_LIMITED', 'slow down', { retryAfterS: 7, data: { limit: 3 } });
  });
  app.get('/admin-only', (c) => {
    requireScope(c, 'admin');
    return c.json({ ok: true });
  });
  return app;
}

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('createServiceApp', () => {
  it('answers /healthz without a token', async () => {
    const res = await build().request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'test', version: '1.2.3' });
  });

  it('refuses every other route without a valid bearer token', async () => {
    const app = build();
    for (const path of ['/metrics', '/nope', '/boom']) {
      const res = await app.request(path);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    const wrong = await app.request('/metrics', auth('dmcy_wrong-token-xxxxxxxxxxxxxxxxxxxx'));
    expect(wrong.status).toBe(401);
  });

  it('echoes a sane request id and makes one otherwise', async () => {
    const app = build();
    const given = await app.request('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const junk = await app.request('/healthz', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(junk.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('renders AppError through the code table with Retry-After and data', async () => {
    const res = await build().request('/teapot', auth(admin));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'RATE_LIMITED', message: 'slow down', limit: 3 });
    expect(body.error.requestId).toBeTypeOf('string');
  });

  it('turns unknown errors into INTERNAL without leaking their message', async () => {
    const res = await build().request('/boom', auth(admin));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain('INTERNAL');
    expect(text).not.toContain('passwd');
  });

  it('answers unknown routes with a 404 envelope', async () => {
    const res = await build().request('/nope', auth(admin));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('serves Prometheus metrics counting requests by route', async () => {
    const app = build();
    await app.request('/teapot', auth(admin));
    const res = await app.request('/metrics', auth(scraper));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/http_requests_total\{[^}]*route="\/teapot"[^}]*status="429"/);
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('serves metrics only to a token with metrics.read (or admin), naming the scope otherwise', async () => {
    const app = build();
    const denied = await app.request('/metrics', auth(reader));
    expect(denied.status).toBe(403);
    const text = await denied.text();
    expect(JSON.parse(text)).toMatchObject({
      error: { code: 'FORBIDDEN', missing: ['metrics.read'] },
    });
    expect(text).not.toContain('http_requests_total');
    expect((await app.request('/metrics', auth(admin))).status).toBe(200);
  });

  it('enforces route scopes with a 403 naming the missing scope', async () => {
    const app = build();
    const res = await app.request('/admin-only', auth(reader));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'FORBIDDEN', missing: ['admin'] } });
    expect((await app.request('/admin-only', auth(admin))).status).toBe(200);
  });
});
