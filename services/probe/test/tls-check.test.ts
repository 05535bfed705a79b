import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsrfGuard, DEFAULT_ALLOW_HOSTS } from '@datamancy/core';
import { certificateVerdict, ProbeHttp, runHttpCheck } from '../src/checks/http.ts';
import type { HttpCheck } from '../src/manifest/schema.ts';

/** Certificate expiry on a real TLS server with a certificate openssl makes for 3 days. */

let dir: string;
let server: Server;
let url: string;
let http: ProbeHttp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dm-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '3',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('secure hello'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  http = new ProbeHttp(createSsrfGuard({ allowHosts: DEFAULT_ALLOW_HOSTS }));
});
afterAll(async () => {
  http?.close();
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const check = (over: Partial<HttpCheck>): HttpCheck => ({
  kind: 'http',
  name: 'https',
  critical: true,
  timeoutMs: 5000,
  retries: 0,
  url,
  method: 'GET',
  headers: {},
  expectStatus: ['200-399'],
  certMinDays: 14,
  followRedirects: false,
  insecureTls: true,
  ...over,
});

describe('TLS certificate expiry', () => {
  it('passes a fresh short-lived certificate within certMinDays, with the certificate as evidence', async () => {
    // 3 days of 3 left: not due for renewal (a third of its life) although under 14 days
    const attempt = await runHttpCheck(http, check({}), AbortSignal.timeout(5000));
    expect(attempt.status).toBe('pass');
    expect(attempt.evidence.certificate).toMatchObject({
      subject: 'localhost',
      issuer: 'localhost',
    });
    expect(attempt.evidence.certificate?.daysLeft).toBeGreaterThanOrEqual(2);
    expect(attempt.evidence.certificate?.lifetimeMs).toBe(3 * 86_400_000);
  });

  it('warns at certMinDays or a third of the life left, whichever is sooner; fails when expired', () => {
    const day = 86_400_000;
    const cert = (msLeft: number, lifetimeMs?: number) => ({
      subject: 'x',
      issuer: 'y',
      validTo: new Date(Date.now() + msLeft).toISOString(),
      daysLeft: Math.floor(msLeft / day),
      msLeft,
      ...(lifetimeMs === undefined ? {} : { lifetimeMs }),
    });
    // a 90-day ACME certificate: 14 days ahead
    expect(certificateVerdict(cert(20 * day, 90 * day), 14)).toBeUndefined();
    expect(certificateVerdict(cert(13 * day, 90 * day), 14)).toEqual({
      status: 'degraded',
      reason: 'TLS certificate expires in 13 day(s)',
    });
    // Caddy's internal 12 h certificate: fine at 6 h, overdue for renewal at 3 h
    expect(certificateVerdict(cert(6 * 3_600_000, 12 * 3_600_000), 14)).toBeUndefined();
    expect(certificateVerdict(cert(3 * 3_600_000, 12 * 3_600_000), 14)?.reason).toBe(
      'TLS certificate expires in 3.0 h, past the point it should have been renewed',
    );
    // no lifetime known: certMinDays alone
    expect(certificateVerdict(cert(5 * day), 14)?.status).toBe('degraded');
    expect(certificateVerdict(cert(-1000, 90 * day), 14)?.status).toBe('fail');
  });

  it('fails on a certificate the system does not trust unless insecureTls', async () => {
    const attempt = await runHttpCheck(
      http,
      check({ insecureTls: false }),
      AbortSignal.timeout(5000),
    );
    expect(attempt.status).toBe('fail');
    expect(attempt.evidence.error?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
