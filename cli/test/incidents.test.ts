import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommonConfigSchema,
  createSilentLogger,
  generateToken,
  openSqliteStore,
  TokenRegistry,
  type Store,
} from '@datamancy/core';
import {
  expandManifest,
  ProbeConfigSchema,
  startProbeService,
  type RunningProbeService,
} from '@datamancy/probe';
import { startHttpFixture, type FixtureServer } from '@datamancy/testkit';
import { runCli } from './helpers.ts';

/** `datamancy incidents`, `approve`, `reject` against a real probe service. */

const TOKEN = generateToken();
let web: FixtureServer;
let probe: RunningProbeService;
let store: Store;
let dir: string;
const env = (): Record<string, string> => ({
  DATAMANCY_API_TOKEN: TOKEN,
  PROBE_URL: probe.server.url,
});

beforeAll(async () => {
  web = await startHttpFixture((_req, res) =>
    res.writeHead(500, { 'content-type': 'text/plain' }).end('boom'),
  );
  dir = mkdtempSync(join(tmpdir(), 'dm-cli-incidents-'));
  store = openSqliteStore(':memory:');
  probe = await startProbeService({
    common: CommonConfigSchema.parse({ dataDir: dir, host: '127.0.0.1' }),
    // every restart needs review; no tool server, so an approved fix cannot run
    config: ProbeConfigSchema.parse({ port: 0, heal: { actions: { restart: 'needs_review' } } }),
    logger: createSilentLogger(),
    tokens: new TokenRegistry(TOKEN),
    store,
    manifest: expandManifest(
      {
        defaults: { retries: 0, thresholds: { failure: 1 } },
        services: [
          { name: 'web', checks: [{ kind: 'http', url: `${web.url}/` }] },
          { name: 'api', checks: [{ kind: 'http', url: `${web.url}/api` }] },
        ],
      },
      { domain: 'example.test', defaultIntervalS: 30 },
    ),
    ocr: null,
    schedule: false,
  });
  await probe.orchestrator.probeStack();
  const deadline = Date.now() + 10_000;
  while (
    (await probe.healStore.proposals({ status: 'awaiting_approval' })).length < 2 &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 100));
  }
}, 30_000);

afterAll(async () => {
  await probe?.close();
  await store?.close();
  await web?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('datamancy incidents / approve / reject', () => {
  it('lists open incidents and the fixes waiting for approval', async () => {
    const res = await runCli(['incidents'], { env: env() });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^ID\s+SERVICE\s+STATUS\s+STAGE\s+OPENED\s+DETAIL/m);
    expect(res.stdout).toMatch(/\bweb\s+open\s+awaiting_approval/);
    expect(res.stdout).toContain('Waiting for approval');
    expect(res.stdout).toMatch(/\d+\s+web\s+restart\s+needs_review/);
    const json = JSON.parse((await runCli(['incidents', '--json'], { env: env() })).stdout) as {
      approvals: { id: number; service: string }[];
      incidents: { id: number }[];
    };
    expect(json.approvals.map((a) => a.service).sort()).toEqual(['api', 'web']);
    const timeline = await runCli(['incidents', String(json.incidents[0]?.id)], { env: env() });
    expect(timeline.stdout).toMatch(/opened\s+\S+ is down/);
    expect(timeline.stdout).toMatch(/^PROPOSAL\s+ACTION\s+SAFETY\s+STATUS/m);
  });

  it('approves as the token holder (the fix cannot run here: exit 1) and rejects with a reason', async () => {
    const { approvals } = JSON.parse(
      (await runCli(['incidents', '--json'], { env: env() })).stdout,
    ) as { approvals: { id: number; service: string }[] };
    const web = approvals.find((a) => a.service === 'web');
    const api = approvals.find((a) => a.service === 'api');
    const approved = await runCli(['approve', String(web?.id)], { env: env() });
    expect(approved.stdout).toBe(`proposal ${String(web?.id)} (restart on web): failed\n`);
    expect(approved.code).toBe(1);
    const again = await runCli(['approve', String(web?.id)], { env: env() });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('CONFLICT');
    const rejected = await runCli(['reject', String(api?.id), '--reason', 'doing it by hand'], {
      env: env(),
    });
    expect(rejected.stdout).toContain('rejected');
    expect((await runCli(['reject', String(api?.id)], { env: env() })).code).toBe(2);
    expect((await runCli(['approve', 'x'], { env: env() })).code).toBe(2);
    expect((await runCli(['incidents', '--status', 'bogus'], { env: env() })).code).toBe(2);
  });
});
