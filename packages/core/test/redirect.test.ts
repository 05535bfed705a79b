import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSsrfGuard,
  DEFAULT_ALLOW_HOSTS,
  guardedRequest,
  planRedirect,
} from '../src/index.ts';

const A = new URL('http://127.0.0.1:8001/start');
const creds = { authorization: 'Bearer s3cret', cookie: 'sid=1', 'x-api-key': 'k', 'x-trace': 't' };

describe('planRedirect', () => {
  it('keeps credentials and body on the same origin (307 keeps the method)', () => {
    const plan = planRedirect(A, 307, '/next', {
      method: 'POST',
      headers: { ...creds, 'content-type': 'text/plain' },
      body: 'payload',
    });
    expect(plan).toMatchObject({
      follow: true,
      crossOrigin: false,
      dropped: [],
      request: {
        method: 'POST',
        body: 'payload',
        headers: { ...creds, 'content-type': 'text/plain' },
      },
    });
  });

  it('drops credential headers on another host, scheme or port, keeping the rest', () => {
    for (const target of [
      'http://localhost:8001/x',
      'https://127.0.0.1:8001/x',
      'http://127.0.0.1:8002/x',
    ]) {
      const plan = planRedirect(A, 302, target, { method: 'GET', headers: creds });
      expect(plan.follow && plan.crossOrigin).toBe(true);
      if (!plan.follow) continue;
      expect(plan.dropped).toEqual(['authorization', 'cookie', 'x-api-key']);
      expect(plan.request.headers).toEqual({ 'x-trace': 't' });
    }
  });

  it('turns a POST into a GET on 301/302/303, without the body or its headers', () => {
    for (const status of [301, 302, 303]) {
      const plan = planRedirect(A, status, '/next', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
        body: '{}',
      });
      expect(plan).toMatchObject({
        follow: true,
        request: { method: 'GET', headers: { authorization: 'Bearer x' } },
        dropped: ['content-type', 'body'],
      });
      if (plan.follow) expect(plan.request.body).toBeUndefined();
    }
    const head = planRedirect(A, 303, '/next', { method: 'HEAD', headers: {} });
    expect(head.follow && head.request.method).toBe('HEAD');
  });

  it('refuses a cross-origin 307/308 that would resend a body, and follows one without a body', () => {
    for (const status of [307, 308]) {
      const plan = planRedirect(A, status, 'http://localhost:9/x', {
        method: 'POST',
        headers: creds,
        body: 'password=hunter2',
      });
      expect(plan.follow).toBe(false);
      if (!plan.follow) expect(plan.reason).toMatch(/would resend the request body/);
    }
    const bare = planRedirect(A, 308, 'http://localhost:9/x', { method: 'GET', headers: creds });
    expect(bare).toMatchObject({ follow: true, request: { method: 'GET' } });
  });

  it('removes user:password from a URL that leaves the origin', () => {
    const plan = planRedirect(A, 302, 'http://user:pw@localhost:9/x', {
      method: 'GET',
      headers: {},
    });
    expect(plan).toMatchObject({ follow: true, dropped: ['userinfo'] });
    if (plan.follow) expect(plan.url.href).toBe('http://localhost:9/x');
  });

  it('throws TypeError on a Location that is not a URL', () => {
    expect(() => planRedirect(A, 302, 'http://[::1', { method: 'GET', headers: {} })).toThrow(
      TypeError,
    );
  });
});

describe('guardedRequest across origins', () => {
  const seen: IncomingHttpHeaders[] = [];
  const b = createServer((req, res) => {
    seen.push(req.headers);
    res.end('landed');
  });
  const a = createServer((req, res) => {
    const port = (b.address() as AddressInfo).port;
    res.writeHead(302, { location: `http://localhost:${port}/landed` }).end();
  });
  beforeAll(async () => {
    await new Promise<void>((r) => b.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => a.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of [a, b]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('does not deliver Authorization, Cookie or an API key to the other origin', async () => {
    const guard = createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS });
    const port = (a.address() as AddressInfo).port;
    const res = await guardedRequest(guard, `http://127.0.0.1:${port}/`, {
      headers: creds,
      timeoutMs: 5000,
      maxBodyBytes: 1000,
    });
    expect(res.body.toString()).toBe('landed');
    expect(seen).toHaveLength(1);
    expect(seen[0]).not.toHaveProperty('authorization');
    expect(seen[0]).not.toHaveProperty('cookie');
    expect(seen[0]).not.toHaveProperty('x-api-key');
    expect(seen[0]?.['x-trace']).toBe('t');
  });
});
