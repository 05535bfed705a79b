import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@datamancy/core';
import {
  startHttpFixture,
  startPostgres,
  type FixtureServer,
  type PostgresFixture,
} from '@datamancy/testkit';
import {
  ADMIN,
  closedPort,
  manifestOf,
  READER,
  startTestProbe,
  type Json,
  type TestProbe,
} from './helpers.ts';

/**
 * The probe end to end against real loopback targets: HTTP servers that answer 200, 500,
 * slowly, never, or with an error page under status 200; a TCP port open and one closed; a
 * dependency chain. The same suite runs on SQLite and on a real PostgreSQL server.
 */

let web: FixtureServer;
let tcp: Server;
let tcpPort: number;
let deadPort: number;
let flaky = 0;

beforeAll(async () => {
  web = await startHttpFixture((req, res) => {
    switch (req.url) {
      case '/ok':
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(
            '<html><head><title>Wiki</title></head><body><h1>Welcome to the wiki</h1></body></html>',
          );
        return;
      case '/health':
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"status":"ok","db":{"state":"up"}}');
        return;
      case '/500':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
        return;
      case '/slow':
        setTimeout(() => res.writeHead(200).end('late but fine'), 300);
        return;
      case '/hang':
        return; // never answers
      case '/fake-ok':
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(
            '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>',
          );
        return;
      case '/flaky':
        flaky += 1;
        res.writeHead(flaky % 2 === 1 ? 503 : 200).end('flaky');
        return;
      default:
        res.writeHead(404).end('not here');
    }
  });
  tcp = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  tcpPort = (tcp.address() as { port: number }).port;
  deadPort = await closedPort();
});

afterAll(async () => {
  await web?.close();
  await new Promise((resolve) => tcp?.close(resolve));
});

function stackManifest() {
  return manifestOf({
    defaults: { timeoutMs: 1000, retries: 0, thresholds: { failure: 1, success: 1 } },
    services: [
      { name: 'wiki', checks: [{ kind: 'http', url: `${web.url}/ok`, keyword: 'Welcome' }] },
      {
        name: 'api',
        checks: [
          { kind: 'http', url: `${web.url}/health`, json: { path: 'db.state', equals: 'up' } },
        ],
      },
      { name: 'broken', checks: [{ kind: 'http', url: `${web.url}/500` }] },
      {
        name: 'sluggish',
        checks: [{ kind: 'http', url: `${web.url}/slow`, latencyBudgetMs: 100 }],
      },
      { name: 'hung', checks: [{ kind: 'http', url: `${web.url}/hang`, timeoutMs: 400 }] },
      { name: 'liar', checks: [{ kind: 'http', url: `${web.url}/fake-ok` }] },
      { name: 'flaky', checks: [{ kind: 'http', url: `${web.url}/flaky`, retries: 1 }] },
      { name: 'cache', checks: [{ kind: 'tcp', host: '127.0.0.1', port: tcpPort }] },
      { name: 'db', checks: [{ kind: 'tcp', host: '127.0.0.1', port: deadPort }] },
      {
        name: 'app',
        dependsOn: ['db'],
        checks: [{ kind: 'tcp', host: '127.0.0.1', port: deadPort }],
      },
      { name: 'frontend', dependsOn: ['app'], checks: [{ kind: 'http', url: `${web.url}/500` }] },
    ],
  });
}

const stores: [string, () => Promise<{ store?: Store; close(): Promise<void> }>][] = [
  ['SQLite', () => Promise.resolve({ close: () => Promise.resolve() })],
  [
    'PostgreSQL',
    async () => {
      const pg: PostgresFixture = await startPostgres();
      const store = await openStore({ url: pg.url, sqlitePath: '/nonexistent' });
      return {
        store,
        close: async () => {
          await store.close();
          await pg.close();
        },
      };
    },
  ],
];

describe.each(stores)('probe service on %s', (_name, openBackend) => {
  let probe: TestProbe;
  let backend: { store?: Store; close(): Promise<void> };
  beforeAll(async () => {
    flaky = 0;
    backend = await openBackend();
    probe = await startTestProbe({
      manifest: stackManifest(),
      ...(backend.store === undefined ? {} : { store: backend.store }),
    });
  }, 60_000);
  afterAll(async () => {
    await probe?.stop();
    await backend?.close();
  });

  it('judges every target right with its evidence: POST /start-stack-probe', async () => {
    const { status, body } = await probe.call('POST', '/start-stack-probe');
    expect(status).toBe(200);
    const by = (name: string): Json => (body.services as Json[]).find((s: Json) => s.name === name);
    expect(body.summary).toEqual({
      total: 11,
      healthy: 4,
      degraded: 1,
      failed: 4,
      blocked: 2,
      maintenance: 0,
      pending: 0,
    });
    expect(by('wiki')).toMatchObject({ state: 'up', outcome: 'pass' });
    expect(by('api')).toMatchObject({ state: 'up', outcome: 'pass' });
    expect(by('cache')).toMatchObject({ state: 'up' });
    expect(by('broken')).toMatchObject({ state: 'down', outcome: 'fail' });
    expect(by('broken').checks[0].evidence).toMatchObject({
      httpStatus: 500,
      reasons: ['status 500, expected 200-399'],
    });
    expect(by('sluggish')).toMatchObject({ state: 'degraded', outcome: 'degraded' });
    expect(by('sluggish').checks[0].evidence.reasons[0]).toMatch(/budget 100 ms/);
    expect(by('hung')).toMatchObject({ state: 'down' });
    expect(by('hung').checks[0].evidence.error.code).toBe('TIMEOUT');
    expect(by('hung').checks[0].latencyMs).toBeLessThan(1000);
    // status 200, but the page is a proxy's error page
    expect(by('liar')).toMatchObject({ state: 'down' });
    expect(by('liar').checks[0].evidence.signatures[0]).toMatchObject({ id: 'bad-gateway' });
    // failed once, passed on the retry: its own outcome
    expect(by('flaky')).toMatchObject({ state: 'up', outcome: 'pass_after_retry' });
    expect(by('flaky').checks[0].attempts).toBe(2);
    expect(by('db')).toMatchObject({ state: 'down' });
    expect(by('db').checks[0].evidence.error.code).toBe('ECONNREFUSED');
    // dependents of a down service: blocked by the root cause, not down
    expect(by('app')).toMatchObject({ state: 'blocked', blockedBy: 'db' });
    expect(by('frontend')).toMatchObject({ state: 'blocked', blockedBy: 'db' });

    const report = await probe.call('GET', `/reports/${String(body.id)}`);
    expect(report.status).toBe(200);
    expect(report.body.summary).toEqual(body.summary);
  });

  it('serves states, evidence and history', async () => {
    const list = await probe.call('GET', '/services');
    expect(list.status).toBe(200);
    expect(list.body.services).toHaveLength(11);
    const one = await probe.call('GET', '/services/broken');
    expect(one.body.service.state).toBe('down');
    expect(one.body.transitions[0]).toMatchObject({ from: 'pending', to: 'down', alert: true });
    expect(one.body.rounds[0]).toMatchObject({ outcome: 'fail', trigger: 'stack' });
    const blocked = await probe.call('GET', '/services/app');
    expect(blocked.body.transitions[0]).toMatchObject({
      to: 'blocked',
      alert: false,
      blockedBy: 'db',
    });

    await probe.call('POST', '/services/wiki/probe');
    const history = await probe.call('GET', '/services/wiki/history?limit=1');
    expect(history.status).toBe(200);
    expect(history.body.results).toHaveLength(1);
    expect(history.body.nextBefore).toBe(history.body.results[0].id);
    const older = await probe.call(
      'GET',
      `/services/wiki/history?limit=5&before=${String(history.body.nextBefore)}`,
    );
    expect(older.body.results).toHaveLength(1);
    expect(older.body.results[0].id).toBeLessThan(Number(history.body.nextBefore));
  });

  it('keeps monitoring in a maintenance window without alerting', async () => {
    const created = await probe.call('POST', '/maintenance', {
      service: 'broken',
      durationMinutes: 5,
      reason: 'upgrade',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      service: 'broken',
      reason: 'upgrade',
      createdBy: 'admin',
    });
    const round = await probe.call('POST', '/services/broken/probe');
    expect(round.body).toMatchObject({
      state: 'maintenance',
      outcome: 'fail',
      alert: false,
      inMaintenance: true,
    });
    const windows = await probe.call('GET', '/maintenance');
    expect(windows.body.windows).toHaveLength(1);
    expect((await probe.call('DELETE', `/maintenance/${String(created.body.id)}`)).status).toBe(
      204,
    );
    const after = await probe.call('POST', '/services/broken/probe');
    expect(after.body).toMatchObject({ state: 'down', inMaintenance: false });
    expect((await probe.call('DELETE', `/maintenance/${String(created.body.id)}`)).status).toBe(
      404,
    );
  });

  it('resumes the saved states after a restart', async () => {
    await probe.repo.flush();
    const states = await probe.repo.loadStates();
    expect(states.find((s) => s.service === 'app')?.status).toMatchObject({
      state: 'blocked',
      blockedBy: 'db',
    });
    expect(states.find((s) => s.service === 'wiki')?.status.state).toBe('up');
  });

  it('folds old results into hourly rollups, drops what is past keeping, and frees orphan proofs', async () => {
    const hour = 3_600_000;
    const base = Math.floor((Date.now() - 30 * 86_400_000) / hour) * hour;
    const old = (i: number, status: 'pass' | 'fail', proof?: string) => ({
      service: 'archive',
      check: 'http',
      kind: 'http' as const,
      critical: true,
      attempts: 1,
      startedAt: base + i * 60_000,
      status,
      latencyMs: 10 * (i + 1),
      message: status,
      evidence: { reasons: [], ...(proof === undefined ? {} : { proof }) },
    });
    probe.repo.enqueue({
      results: [old(0, 'pass'), old(1, 'fail', 'a'.repeat(64) + '.png'), old(2, 'pass')],
    });
    probe.repo.enqueue({ results: [{ ...old(0, 'pass'), startedAt: base - 200 * 86_400_000 }] });
    await probe.repo.flush();
    const now = Date.now();
    const { folded, orphanProofs } = await probe.repo.applyRetention(
      now - 7 * 86_400_000,
      now - 90 * 86_400_000,
    );
    expect(folded).toBe(4);
    expect(orphanProofs).toEqual(['a'.repeat(64) + '.png']);
    const rollups = await probe.repo.rollups('archive', 0);
    // the 200-day-old hour was folded, then dropped as past keeping
    expect(rollups).toEqual([
      {
        service: 'archive',
        check: 'http',
        hour: base,
        total: 3,
        passed: 2,
        degraded: 0,
        failed: 1,
        latencyAvg: 20,
        latencyMax: 30,
      },
    ]);
    expect(await probe.repo.results('archive', { limit: 10 })).toEqual([]);
    // folding again adds to the same hour
    probe.repo.enqueue({ results: [old(3, 'pass')] });
    await probe.repo.flush();
    await probe.repo.applyRetention(now - 7 * 86_400_000, now - 90 * 86_400_000);
    expect((await probe.repo.rollups('archive', 0))[0]).toMatchObject({
      total: 4,
      passed: 3,
      latencyMax: 40,
    });
    // recent results are untouched
    expect((await probe.call('GET', '/services/wiki/history')).body.results.length).toBeGreaterThan(
      0,
    );
  });

  it('exposes per-service state and check counts on /metrics', async () => {
    const res = await fetch(`${probe.url}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const text = await res.text();
    expect(text).toContain('probe_service_up{service="wiki"} 1');
    expect(text).toContain('probe_service_up{service="broken"} 0');
    expect(text).toContain('probe_service_state{service="app",state="blocked"} 1');
    expect(text).toMatch(/probe_check_attempts_total\{kind="http",status="fail"[^}]*\} \d+/);
    expect(text).toMatch(/probe_transitions_total\{to="down"[^}]*\} \d+/);
  });

  it('probes ad-hoc URLs through the SSRF guard', async () => {
    const { status, body } = await probe.call('POST', '/start-probe', {
      services: [`${web.url}/ok`, `${web.url}/500`],
    });
    expect(status).toBe(200);
    expect(body.summary).toEqual({ total: 2, healthy: 1, degraded: 0, failed: 1 });
    const refused = await probe.call('POST', '/start-probe', {
      services: ['http://169.254.169.254/latest/meta-data/'],
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('URL_REFUSED');
    const notListed = await probe.call('POST', '/start-probe', {
      services: ['http://example.org/'],
    });
    expect(notListed.status).toBe(403);
    expect(notListed.body.error.issues[0].path).toBe('services[0]');
  });
});

describe('probe API input and auth', () => {
  let probe: TestProbe;
  beforeAll(async () => {
    probe = await startTestProbe({
      manifest: manifestOf({
        services: [{ name: 'wiki', checks: [{ kind: 'http', url: `${web.url}/ok` }] }],
      }),
    });
  });
  afterAll(() => probe?.stop());

  it('needs a token everywhere but /healthz and /login, and the admin scope to act', async () => {
    expect((await probe.call('GET', '/healthz', undefined, null)).status).toBe(200);
    expect((await probe.call('GET', '/services', undefined, null)).status).toBe(401);
    expect((await probe.call('GET', '/services', undefined, 'not-a-token')).status).toBe(401);
    expect((await probe.call('GET', '/services', undefined, READER)).status).toBe(200);
    const denied = await probe.call('POST', '/start-stack-probe', undefined, READER);
    expect(denied.status).toBe(403);
    expect(
      (
        await probe.call(
          'POST',
          '/maintenance',
          { service: 'wiki', durationMinutes: 1, reason: 'x' },
          READER,
        )
      ).status,
    ).toBe(403);
  });

  it('names the failing field of bad input', async () => {
    const unknown = await probe.call('POST', '/start-stack-probe', { services: ['nope'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues[0].path).toBe('services');
    const badUrl = await probe.call('POST', '/start-probe', { services: ['ftp://x'] });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.error.issues[0].path).toBe('services[0]');
    const extra = await probe.call('POST', '/start-probe', {
      services: [`${web.url}/ok`],
      bogus: 1,
    });
    expect(extra.status).toBe(400);
    const window = await probe.call('POST', '/maintenance', { service: 'wiki', reason: 'x' });
    expect(window.status).toBe(400);
    expect(window.body.error.issues[0].path).toBe('end');
    const ghost = await probe.call('POST', '/maintenance', {
      service: 'ghost',
      durationMinutes: 1,
      reason: 'x',
    });
    expect(ghost.status).toBe(400);
    const query = await probe.call('GET', '/services/wiki/history?limit=0');
    expect(query.status).toBe(400);
    expect(query.body.error.issues[0].path).toBe('query.limit');
    expect((await probe.call('GET', '/services/ghost')).status).toBe(404);
    expect((await probe.call('GET', '/reports/not-a-report')).status).toBe(404);
    expect((await probe.call('GET', '/proofs/..%2Fapi-token')).status).toBe(404);
    const res = await fetch(`${probe.url}/start-probe`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ADMIN}`,
        'content-type': 'text/plain',
      },
      body: 'x',
    });
    expect(res.status).toBe(415);
  });
});
