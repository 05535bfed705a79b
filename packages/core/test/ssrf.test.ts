import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import {
  AppError,
  createSsrfGuard,
  DEFAULT_ALLOW_HOSTS,
  guardedRequest,
  SsrfError,
} from '../src/index.ts';

const guard = createSsrfGuard({ allowHosts: [...DEFAULT_ALLOW_HOSTS, 'grafana', '*.example.org'] });

function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof SsrfError ? err.reason : `other: ${String(err)}`;
  }
}

describe('SSRF guard, before any connection', () => {
  it('allows loopback by address and by name, and allowlisted names', () => {
    for (const url of [
      'http://127.0.0.1:8081/x',
      'http://localhost/',
      'http://[::1]:9/',
      'https://grafana/',
      'http://a.example.org/',
    ]) {
      expect(
        reasonOf(() => guard.checkUrl(new URL(url))),
        url,
      ).toBeUndefined();
    }
  });

  it('refuses cloud metadata and link-local addresses in every spelling', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://2852039166/', // 169.254.169.254 as one number
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]/',
      'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://100.100.100.200/',
      'http://0.0.0.0:8081/',
    ]) {
      expect(
        reasonOf(() => guard.checkUrl(new URL(url))),
        url,
      ).toBe('denied-address');
    }
  });

  it('refuses hosts that are not on the allowlist and schemes other than http(s)', () => {
    expect(reasonOf(() => guard.checkUrl(new URL('http://10.1.2.3/')))).toBe('not-allowlisted');
    expect(reasonOf(() => guard.checkUrl(new URL('http://example.org/')))).toBe('not-allowlisted');
    expect(reasonOf(() => guard.checkUrl(new URL('file:///etc/passwd')))).toBe('scheme');
    expect(reasonOf(() => guard.checkUrl(new URL('gopher://127.0.0.1/')))).toBe('scheme');
  });

  it('still refuses metadata when the allowlist says any host', () => {
    const open = createSsrfGuard({ allowHosts: ['*'] });
    expect(reasonOf(() => open.checkUrl(new URL('http://example.net/')))).toBeUndefined();
    expect(reasonOf(() => open.checkUrl(new URL('http://169.254.169.254/')))).toBe(
      'denied-address',
    );
  });

  it('rejects a malformed allowlist at start-up', () => {
    expect(() => createSsrfGuard({ allowHosts: ['10.0.0.0/99'] })).toThrow(
      /not a hostname, address or CIDR/,
    );
    expect(() => createSsrfGuard({ allowHosts: ['http://x'] })).toThrow(/not a hostname/);
  });
});

describe('guardedRequest against loopback servers', () => {
  let target: FixtureServer;
  beforeAll(async () => {
    target = await startHttpFixture((req, res) => {
      if (req.url === '/to-metadata') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        res.end();
      } else if (req.url === '/to-outside') {
        res.writeHead(301, { location: 'http://10.9.9.9/' });
        res.end();
      } else if (req.url === '/to-self') {
        res.writeHead(307, { location: '/big' });
        res.end();
      } else if (req.url === '/loop') {
        res.writeHead(302, { location: '/loop' });
        res.end();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000);
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(100_000));
      } else {
        res.end('hello');
      }
    });
  });
  afterAll(() => target.close());

  it('fetches an allowed loopback URL', async () => {
    const res = await guardedRequest(guard, `${target.url}/hi`, {
      timeoutMs: 2000,
      maxBodyBytes: 1000,
    });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
  });

  it('refuses a redirect to the metadata address without contacting it', async () => {
    await expect(
      guardedRequest(guard, `${target.url}/to-metadata`, { timeoutMs: 2000, maxBodyBytes: 1000 }),
    ).rejects.toMatchObject({ code: 'URL_REFUSED', reason: 'denied-address' });
  });

  it('refuses a redirect to a host off the allowlist', async () => {
    await expect(
      guardedRequest(guard, `${target.url}/to-outside`, { timeoutMs: 2000, maxBodyBytes: 1000 }),
    ).rejects.toMatchObject({ code: 'URL_REFUSED', reason: 'not-allowlisted' });
  });

  it('follows allowed redirects, cuts the body at the budget and says so', async () => {
    const res = await guardedRequest(guard, `${target.url}/to-self`, {
      timeoutMs: 2000,
      maxBodyBytes: 1024,
    });
    expect(res.redirects).toEqual([`${target.url}/big`]);
    expect(res.body.length).toBe(1024);
    expect(res.truncated).toBe(true);
  });

  it('stops redirect loops and slow servers with upstream errors', async () => {
    await expect(
      guardedRequest(guard, `${target.url}/loop`, { timeoutMs: 2000, maxBodyBytes: 10 }),
    ).rejects.toMatchObject({
      code: 'UPSTREAM_ERROR',
    });
    await expect(
      guardedRequest(guard, `${target.url}/slow`, { timeoutMs: 200, maxBodyBytes: 10 }),
    ).rejects.toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
    });
  });

  it('reports a closed port as an upstream error', async () => {
    const closed = await startHttpFixture((_req, res) => res.end());
    const url = closed.url;
    await closed.close();
    const err = await guardedRequest(guard, url, { timeoutMs: 2000, maxBodyBytes: 10 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR' });
  });
});
