import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startProbe,
  startTools,
  TOKENS,
  type AdversarialProbe,
  type AdversarialTools,
} from './fixtures.ts';

/**
 * Attacker position: a server the control plane fetches (a probed app, a URL a tool is asked
 * to read) that answers with a redirect to a host the attacker listens on. Two real loopback
 * listeners on different ports (so different origins): `origin` redirects, `thief` records
 * every byte it receives. The credentials the probe's check or the tool call carries must
 * never reach the thief.
 */

const SECRETS = {
  bearer: 'Bearer adv-secret-bearer-7f3a',
  cookie: 'sid=adv-secret-cookie-91c2',
  apiKey: 'adv-secret-apikey-55d0',
  body: '{"password":"adv-secret-body-0b6e"}',
};

interface Received {
  path: string;
  method: string;
  raw: string;
}

function recorder(): { server: Server; received: Received[]; port: () => number } {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        method: req.method ?? '',
        raw: `${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString('utf8')}`,
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('landed');
    });
  });
  return { server, received, port: () => (server.address() as AddressInfo).port };
}

const thief = recorder();
const origin = recorder();
let originPort = 0;
let thiefPort = 0;

/** The redirecting server: where each path sends its caller. */
function redirectFor(path: string): [number, string] | undefined {
  if (path === '/to-thief-302') return [302, `http://localhost:${thiefPort}/stolen-302`];
  if (path === '/to-thief-307') return [307, `http://localhost:${thiefPort}/stolen-307`];
  if (path === '/to-thief-get') return [301, `http://127.0.0.1:${thiefPort}/stolen-get`];
  if (path === '/to-self') return [302, `http://127.0.0.1:${originPort}/landing`];
  return undefined;
}

const listen = (server: Server): Promise<void> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

let probe: AdversarialProbe;
let tools: AdversarialTools;

function check(path: string, method: 'GET' | 'POST') {
  return {
    kind: 'http' as const,
    url: `http://127.0.0.1:${originPort}${path}`,
    method,
    headers: { authorization: SECRETS.bearer, cookie: SECRETS.cookie, 'x-api-key': SECRETS.apiKey },
    ...(method === 'POST' ? { body: SECRETS.body } : {}),
    followRedirects: true,
    timeoutMs: 2000,
    retries: 0,
  };
}

beforeAll(async () => {
  origin.server.removeAllListeners('request');
  origin.server.on('request', (req: IncomingMessage, res) => {
    const to = redirectFor(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      origin.received.push({
        path: req.url ?? '',
        method: req.method ?? '',
        raw: `${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString('utf8')}`,
      });
      if (to === undefined) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('landed');
        return;
      }
      res.writeHead(to[0], { location: to[1] });
      res.end();
    });
  });
  await listen(origin.server);
  await listen(thief.server);
  originPort = origin.port();
  thiefPort = thief.port();
  probe = await startProbe({
    manifest: {
      services: [
        { name: 'post-302', checks: [check('/to-thief-302', 'POST')] },
        { name: 'post-307', checks: [check('/to-thief-307', 'POST')] },
        { name: 'get-301', checks: [check('/to-thief-get', 'GET')] },
        { name: 'same-origin', checks: [check('/to-self', 'GET')] },
      ],
    },
  });
  tools = await startTools();
}, 60_000);

afterAll(async () => {
  await probe?.stop();
  await tools?.stop();
  await new Promise<void>((r) => origin.server.close(() => r()));
  await new Promise<void>((r) => thief.server.close(() => r()));
});

const leaked = (received: Received[]): string[] =>
  received.flatMap((r) =>
    Object.entries(SECRETS)
      .filter(([, secret]) => r.raw.includes(secret.replace(/^Bearer /, '')))
      .map(([what]) => `${what} → ${r.method} ${r.path}`),
  );

const answers = new Map<string, string>();

/** Runs the service's round now; keeps the answer (results with their evidence). */
async function probeNow(service: string): Promise<void> {
  const res = await fetch(`${probe.url}/services/${service}/probe`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.admin}` },
  });
  expect(res.status).toBe(200);
  answers.set(service, await res.text());
}

const lastEvidence = (service: string): string => answers.get(service) ?? '';

describe('a redirecting server', () => {
  it("gets none of a probe check's credentials or body when it sends the check elsewhere", async () => {
    thief.received.length = 0;
    await probeNow('post-302');
    await probeNow('get-301');
    expect(thief.received.map((r) => r.path).sort()).toEqual(['/stolen-302', '/stolen-get']);
    expect(leaked(thief.received)).toEqual([]);
    // The evidence says what was held back, so an operator sees why a check behaves differently.
    expect(lastEvidence('post-302')).toMatch(/authorization/i);
    expect(lastEvidence('post-302')).toMatch(/body/i);
  });

  it('cannot make a 307 resend the body to another origin: the hop is not followed at all', async () => {
    thief.received.length = 0;
    await probeNow('post-307');
    expect(thief.received).toEqual([]);
    expect(lastEvidence('post-307')).toMatch(/another origin|not followed/i);
  });

  it('a same-origin redirect still carries them (the check is not simply stripped)', async () => {
    origin.received.length = 0;
    await probeNow('same-origin');
    const landing = origin.received.find((r) => r.path === '/landing');
    expect(landing?.raw).toContain(SECRETS.cookie);
  });

  it("gets none of a tool call's credentials (http_get through the tool server)", async () => {
    thief.received.length = 0;
    const res = await fetch(`${tools.url}/call-tool`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'http_get',
        args: {
          url: `http://127.0.0.1:${originPort}/to-thief-get`,
          headers: {
            authorization: SECRETS.bearer,
            cookie: SECRETS.cookie,
            'x-api-key': SECRETS.apiKey,
          },
        },
      }),
    });
    expect(res.status).toBe(200);
    expect(thief.received.map((r) => r.path)).toEqual(['/stolen-get']);
    expect(leaked(thief.received)).toEqual([]);
  });
});
