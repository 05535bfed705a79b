import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBrowser, USER, type TestBrowser } from './helpers.ts';

/**
 * Chromium and a private CA (the stack's edge CA): a page signed by it loads when the CA is
 * given to the service (NODE_EXTRA_CA_CERTS in the stack), and fails as untrusted otherwise.
 * The CA and the site certificate are made by openssl; the site is a real HTTPS server.
 */

let dir: string;
let server: Server;
let url: string;
let trusting: TestBrowser;
let plain: TestBrowser;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dm-browser-ca-'));
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=test edge CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl(
    'req',
    '-new',
    ...ec,
    '-keyout',
    p('site.key'),
    '-out',
    p('site.csr'),
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(p('site.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  openssl(
    'x509',
    '-req',
    '-in',
    p('site.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('site.crt'),
    '-days',
    '1',
    '-extfile',
    p('site.ext'),
  );
  server = createServer(
    { key: readFileSync(p('site.key')), cert: readFileSync(p('site.crt')) },
    (_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<title>Signed by the edge</title><h1>private CA</h1>'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  trusting = await startTestBrowser({}, undefined, p('ca.crt'));
  plain = await startTestBrowser();
}, 60_000);

afterAll(async () => {
  await trusting?.close();
  await plain?.close();
  if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('a private CA for Chromium', () => {
  it('loads a page signed by the CA it was given', async () => {
    const res = await trusting.post('/dom', { url }, {}, USER);
    const body = (await res.json()) as { ok: boolean; status: number; title: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ ok: true, status: 200, title: 'Signed by the edge' });
  }, 30_000);

  it('refuses the same page without it, as untrusted', async () => {
    const res = await plain.post('/dom', { url }, {}, USER);
    const body = (await res.json()) as { error: { netError?: string } };
    expect(res.status).toBe(502);
    expect(body.error.netError).toBe('ERR_CERT_AUTHORITY_INVALID');
  }, 30_000);
});
