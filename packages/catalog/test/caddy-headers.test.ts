import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadCatalog,
  publicServices,
  renderCaddySite,
  renderCaddySnippets,
  type CaddyTargets,
} from '../src/index.ts';

/**
 * The real `caddy` runs every site our renderer writes (pointed at loopback: a fake Authelia
 * answering forward-auth with or without `Remote-User`, and an echo upstream). Whatever
 * `Remote-*` headers a client sends, an app only ever sees Authelia's.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const catalog = loadCatalog(join(ROOT, 'stack', 'catalog.yaml'));
const sites = publicServices(catalog);

/** What Authelia answers, by the path the client asked for (X-Forwarded-Uri). */
const AUTHELIA_IDENTITY = {
  'Remote-User': 'alice',
  'Remote-Groups': 'admins,users',
  'Remote-Name': 'Alice Example',
  'Remote-Email': 'alice@example.test',
};
const FORGED: Record<string, string> = {
  'Remote-User': 'mallory',
  'Remote-Groups': 'admins',
  'Remote-Name': 'Mallory',
  'Remote-Email': 'mallory@evil.test',
  'Remote-Other': 'forged',
  remote_user: 'mallory-underscore',
  'REMOTE-GROUPS-EXTRA': 'admins',
};

interface Seen {
  host: string;
  headers: IncomingHttpHeaders;
}

let dir: string;
let caddy: ChildProcess | undefined;
let caddyLog = '';
let authelia: Server;
let echo: Server;
let port: number;
const upstreamSaw: Seen[] = [];
const autheliaSaw: IncomingHttpHeaders[] = [];

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

const hostOf = (hostname: string | undefined) => `${hostname ?? ''}.example.test`;

/** A request to Caddy on loopback, for a site by its host name. */
function get(
  host: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { ...headers, host: `${host}:${String(port)}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const remoteHeaders = (h: IncomingHttpHeaders): Record<string, unknown> =>
  Object.fromEntries(Object.entries(h).filter(([k]) => /^remote[-_]/i.test(k)));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dm-caddy-run-'));
  authelia = createServer((req, res) => {
    autheliaSaw.push(req.headers);
    const uri = String(req.headers['x-forwarded-uri'] ?? '');
    if (uri.startsWith('/signed-in')) res.writeHead(200, AUTHELIA_IDENTITY);
    else if (uri.startsWith('/anonymous'))
      res.writeHead(200); // allowed, but no identity
    else res.writeHead(302, { location: 'https://auth.example.test/' });
    res.end();
  });
  echo = createServer((req, res) => {
    upstreamSaw.push({ host: String(req.headers['x-forwarded-host'] ?? ''), headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.headers));
  });
  const [authPort, echoPort] = await Promise.all([listen(authelia), listen(echo)]);
  port = await freePort();
  const targets: CaddyTargets = {
    address: (s) => `http://${hostOf(s.hostname)}:${String(port)}`,
    upstream: () => `127.0.0.1:${String(echoPort)}`,
    authelia: `127.0.0.1:${String(authPort)}`,
  };
  const caddyfile = [
    '{',
    '\tadmin off',
    '\tauto_https off',
    '\tdefault_bind 127.0.0.1',
    '}',
    '',
    ...renderCaddySnippets(targets),
    '',
    ...sites.flatMap((s) => [...renderCaddySite(s, targets), '']),
  ].join('\n');
  const path = join(dir, 'Caddyfile');
  writeFileSync(path, caddyfile);
  caddy = spawn('caddy', ['run', '--config', path, '--adapter', 'caddyfile'], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_DATA_HOME: dir,
      XDG_CONFIG_HOME: dir,
      API_LITELLM_ALLOWLIST: '127.0.0.1/32',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  caddy.stderr?.on('data', (c: Buffer) => (caddyLog += c.toString('utf8')));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await get(hostOf(sites[0]?.hostname), '/anonymous').then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || caddy.exitCode !== null)
      throw new Error(`caddy did not start:\n${caddyLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  upstreamSaw.length = 0;
  autheliaSaw.length = 0;
}, 30_000);

afterAll(async () => {
  caddy?.kill('SIGTERM');
  await Promise.all([authelia, echo].map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

describe('the Caddyfile our renderer writes, run by caddy', () => {
  const forwardAuth = sites.filter((s) => s.sso === 'forward-auth');
  const others = sites.filter((s) => s.sso !== 'forward-auth');

  it('covers sites of every kind', () => {
    expect(forwardAuth.length).toBeGreaterThan(5);
    expect(new Set(others.map((s) => s.sso))).toEqual(new Set(['oidc', 'bypass']));
    expect(sites.map((s) => s.name)).toContain('litellm'); // the allowlisted API host too
  });

  it("passes Authelia's identity and never the client's to a forward-auth app", async () => {
    for (const s of forwardAuth) {
      const res = await get(hostOf(s.hostname), '/signed-in/page', FORGED);
      expect(res.status, s.name).toBe(200);
      const seen = JSON.parse(res.body) as IncomingHttpHeaders;
      expect(remoteHeaders(seen), s.name).toEqual({
        'remote-user': 'alice',
        'remote-groups': 'admins,users',
        'remote-name': 'Alice Example',
        'remote-email': 'alice@example.test',
      });
    }
    // and Authelia itself was never shown the forged headers
    expect(autheliaSaw.length).toBeGreaterThanOrEqual(forwardAuth.length);
    for (const h of autheliaSaw) expect(remoteHeaders(h)).toEqual({});
  });

  it('passes no identity at all when Authelia allows without one', async () => {
    for (const s of forwardAuth) {
      const res = await get(hostOf(s.hostname), '/anonymous', FORGED);
      expect(res.status, s.name).toBe(200);
      expect(remoteHeaders(JSON.parse(res.body) as IncomingHttpHeaders), s.name).toEqual({});
    }
  });

  it('sends nothing upstream when Authelia refuses', async () => {
    const before = upstreamSaw.length;
    for (const s of forwardAuth) {
      const res = await get(hostOf(s.hostname), '/admin', FORGED);
      expect(res.status, s.name).toBe(302);
    }
    expect(upstreamSaw.length).toBe(before);
  });

  it('strips client-sent Remote-* headers on OIDC and public sites too', async () => {
    for (const s of others) {
      const res = await get(hostOf(s.hostname), '/anything', FORGED);
      expect(res.status, s.name).toBe(200);
      const seen = JSON.parse(res.body) as IncomingHttpHeaders;
      expect(remoteHeaders(seen), s.name).toEqual({});
      expect(seen['x-forwarded-host'], s.name).toBe(`${hostOf(s.hostname)}:${String(port)}`);
    }
  });

  it('let no forged value through to any upstream, on any site', () => {
    expect(upstreamSaw.length).toBe(forwardAuth.length * 2 + others.length);
    const forged = new Set(Object.values(FORGED));
    for (const seen of upstreamSaw) {
      for (const [k, v] of Object.entries(seen.headers)) {
        if (typeof v === 'string') expect(forged.has(v), `${seen.host}: ${k}`).toBe(false);
      }
    }
  });
});
