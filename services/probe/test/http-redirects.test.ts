import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSsrfGuard, DEFAULT_ALLOW_HOSTS } from '@datamancy/core';
import { ProbeHttp, runHttpCheck } from '../src/checks/http.ts';
import type { HttpCheck } from '../src/manifest/schema.ts';

/**
 * Redirects between two real loopback listeners on different ports: A (127.0.0.1) redirects
 * to B as `localhost` and as `127.0.0.1`, both another origin, or to itself. Each listener
 * records what arrived, so the tests assert on what B received, not on what the probe says.
 */

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

function recorder(route: (req: Received, res: ServerResponse) => void): {
  server: Server;
  got: Received[];
} {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      got.push(r);
      route(r, res);
    });
  });
  return { server, got };
}

const portOf = (s: Server): number => (s.address() as AddressInfo).port;

// A: /to/<host>/<status> redirects to B on that host; /self/<status> to A's own /landed.
const a = recorder((req, res) => {
  const [, kind, host, status] = req.path.split('/');
  if (kind === 'to' && host !== undefined && status !== undefined) {
    res.writeHead(Number(status), { location: `http://${host}:${portOf(b.server)}/landed` }).end();
  } else if (kind === 'self' && host !== undefined) {
    res.writeHead(Number(host), { location: '/landed' }).end();
  } else res.writeHead(200, { 'content-type': 'text/plain' }).end('landed on A');
});
// B: /landed answers; /back sends the probe back to A (credentials must not come back).
const b = recorder((req, res) => {
  if (req.path === '/back')
    res.writeHead(302, { location: `http://127.0.0.1:${portOf(a.server)}/landed` }).end();
  else res.writeHead(200, { 'content-type': 'text/plain' }).end('landed on B');
});

let http: ProbeHttp;
beforeAll(async () => {
  for (const s of [a.server, b.server])
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  http = new ProbeHttp(createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS }));
});
afterAll(async () => {
  http?.close();
  for (const s of [a.server, b.server]) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});
beforeEach(() => {
  a.got.length = 0;
  b.got.length = 0;
});

const SECRETS = {
  authorization: 'Bearer probe-secret',
  cookie: 'session=probe-cookie',
  'proxy-authorization': 'Basic cHJveHk6cHc=',
  'x-api-key': 'probe-api-key',
  'x-probe-run': 'visible',
};

const check = (path: string, over: Partial<HttpCheck> = {}): HttpCheck => ({
  kind: 'http',
  name: 'redirects',
  critical: true,
  timeoutMs: 5000,
  retries: 0,
  url: `http://127.0.0.1:${portOf(a.server)}${path}`,
  method: 'GET',
  headers: SECRETS,
  expectStatus: ['200-399'],
  certMinDays: 14,
  followRedirects: true,
  insecureTls: false,
  ...over,
});

const run = (c: HttpCheck) => runHttpCheck(http, c, AbortSignal.timeout(5000));

function expectNoSecrets(r: Received | undefined): void {
  expect(r).toBeDefined();
  for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-api-key'])
    expect(r?.headers).not.toHaveProperty(name);
  expect(JSON.stringify(r)).not.toMatch(/probe-secret|probe-cookie|probe-api-key|hunter2/);
}

describe('HTTP check redirects across origins', () => {
  for (const host of ['localhost', '127.0.0.1']) {
    it(`drops Authorization, Cookie, Proxy-Authorization and API keys on a redirect to ${host}:B, and says so`, async () => {
      const attempt = await run(check(`/to/${host}/302`));
      expect(attempt.status).toBe('pass');
      expect(b.got).toHaveLength(1);
      expectNoSecrets(b.got[0]);
      expect(b.got[0]?.headers['x-probe-run']).toBe('visible');
      expect(a.got[0]?.headers.authorization).toBe('Bearer probe-secret');
      expect(attempt.evidence.redirects).toEqual([
        {
          status: 302,
          location: `http://${host}:${portOf(b.server)}/landed`,
          crossOrigin: true,
          dropped: ['authorization', 'cookie', 'proxy-authorization', 'x-api-key'],
        },
      ]);
      expect(attempt.evidence.finalUrl).toBe(`http://${host}:${portOf(b.server)}/landed`);
    });
  }

  it('turns a POST into a GET on a cross-origin 302 and B gets neither body nor credentials', async () => {
    const attempt = await run(
      check('/to/127.0.0.1/302', {
        method: 'POST',
        headers: { ...SECRETS, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'user=admin&password=hunter2',
      }),
    );
    expect(attempt.status).toBe('pass');
    expect(a.got[0]).toMatchObject({ method: 'POST', body: 'user=admin&password=hunter2' });
    expect(b.got[0]).toMatchObject({ method: 'GET', body: '' });
    expectNoSecrets(b.got[0]);
    expect(b.got[0]?.headers).not.toHaveProperty('content-type');
    expect(attempt.evidence.redirects?.[0]).toMatchObject({
      crossOrigin: true,
      method: 'GET',
      dropped: expect.arrayContaining(['authorization', 'cookie', 'content-type', 'body']),
    });
  });

  it('refuses a cross-origin 307 or 308 that would resend the body: B receives nothing', async () => {
    for (const status of [307, 308]) {
      b.got.length = 0;
      const attempt = await run(
        check(`/to/localhost/${status}`, { method: 'POST', body: 'password=hunter2' }),
      );
      expect(b.got).toEqual([]);
      expect(attempt.status).toBe('fail');
      expect(attempt.evidence.error?.code).toBe('REDIRECT_REFUSED');
      expect(attempt.evidence.redirects).toEqual([
        expect.objectContaining({
          status,
          crossOrigin: true,
          refused: expect.stringMatching(/would resend the request body/),
        }),
      ]);
    }
  });

  it('does not give the credentials back when a later redirect returns to the first origin', async () => {
    // B/back → A/landed: dropped on the way to A, they stay dropped
    const back = await run(check('', { url: `http://127.0.0.1:${portOf(b.server)}/back` }));
    expect(back.status).toBe('pass');
    expect(b.got[0]?.headers.authorization).toBe('Bearer probe-secret');
    expect(a.got).toHaveLength(1);
    expectNoSecrets(a.got[0]);
  });

  it('sends user:password of the check URL only to its own origin', async () => {
    const attempt = await run(
      check('', {
        url: `http://probe:url-secret@127.0.0.1:${portOf(a.server)}/to/localhost/302`,
        headers: {},
      }),
    );
    expect(attempt.status).toBe('pass');
    expect(a.got[0]?.headers.authorization).toMatch(/^Basic /);
    expect(b.got[0]?.headers).not.toHaveProperty('authorization');
  });
});

describe('HTTP check redirects on the same origin', () => {
  it('keeps Authorization, Cookie and the body on a same-origin 307', async () => {
    const attempt = await run(check('/self/307', { method: 'POST', body: 'password=hunter2' }));
    expect(attempt.status).toBe('pass');
    expect(a.got).toHaveLength(2);
    expect(a.got[1]).toMatchObject({ method: 'POST', path: '/landed', body: 'password=hunter2' });
    expect(a.got[1]?.headers).toMatchObject({
      authorization: 'Bearer probe-secret',
      cookie: 'session=probe-cookie',
      'x-api-key': 'probe-api-key',
    });
    expect(attempt.evidence.redirects).toEqual([
      {
        status: 307,
        location: `http://127.0.0.1:${portOf(a.server)}/landed`,
        crossOrigin: false,
        dropped: [],
      },
    ]);
  });

  it('keeps credentials but not the body on a same-origin 303 (POST becomes GET)', async () => {
    const attempt = await run(check('/self/303', { method: 'POST', body: 'a=1' }));
    expect(attempt.status).toBe('pass');
    expect(a.got[1]).toMatchObject({ method: 'GET', body: '' });
    expect(a.got[1]?.headers.authorization).toBe('Bearer probe-secret');
    expect(attempt.evidence.redirects?.[0]).toMatchObject({ method: 'GET', dropped: ['body'] });
  });

  it('does not follow redirects unless asked, and reports the redirect status', async () => {
    const attempt = await run(check('/to/localhost/302', { followRedirects: false }));
    expect(b.got).toEqual([]);
    expect(attempt.evidence.httpStatus).toBe(302);
    expect(attempt.evidence.redirects).toBeUndefined();
  });
});
