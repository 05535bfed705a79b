import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsrfGuard, DEFAULT_ALLOW_HOSTS } from '@datamancy/core';
import { ProbeHttp, runHttpCheck } from '../src/checks/http.ts';
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
  it('is degraded when the certificate expires within certMinDays, with the certificate as evidence', async () => {
    const attempt = await runHttpCheck(http, check({}), AbortSignal.timeout(5000));
    expect(attempt.status).toBe('degraded');
    expect(attempt.evidence.certificate).toMatchObject({
      subject: 'localhost',
      issuer: 'localhost',
    });
    expect(attempt.evidence.certificate?.daysLeft).toBeGreaterThanOrEqual(2);
    expect(attempt.evidence.reasons[0]).toMatch(/TLS certificate expires in [23] day\(s\)/);
    const relaxed = await runHttpCheck(http, check({ certMinDays: 1 }), AbortSignal.timeout(5000));
    expect(relaxed.status).toBe('pass');
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
