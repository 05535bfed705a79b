import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommonConfigSchema,
  createSilentLogger,
  openSqliteStore,
  READ_CAPABILITIES,
  TokenRegistry,
  type Store,
} from '@datamancy/core';
import { startEngine, testEngines, waitFor, type EngineFixture } from '@datamancy/testkit';
import {
  startToolServer,
  ToolServerConfigSchema,
  type RunningToolServer,
} from '@datamancy/tool-server';
import {
  RestartHistory,
  runContainerCheck,
  type InspectedContainer,
} from '../src/checks/container.ts';
import type { ContainerCheck } from '../src/manifest/schema.ts';
import { ADMIN, manifestOf, startTestProbe, type Json, type TestProbe } from './helpers.ts';

/**
 * Container checks against real containers, on each engine (Docker Engine and Podman): its
 * Docker-compatible API on a private socket, read through the real tool server's
 * `docker_inspect` (host plugin), as in production. A running container, one that exited with
 * code 3, one that does not exist, one in a restart loop, and the tool server gone.
 */

describe.each(testEngines())('on %s', (kind) => {
  let engine: EngineFixture;
  let image: string;
  let tools: RunningToolServer;
  let toolsClosed = false;
  let toolsStore: Store;
  let toolsDir: string;
  let probe: TestProbe;

  beforeAll(async () => {
    engine = await startEngine(kind);
    image = await engine.importBusybox();
    // Nothing is published: the probe only reads the containers' state.
    await engine.cli(['run', '-d', '--name', 'dm-running', image, 'sleep', '3600']);
    await engine.cli(['run', '-d', '--name', 'dm-exited', image, 'sh', '-c', 'exit 3']);
    await engine.cli(['wait', 'dm-exited']);

    toolsDir = mkdtempSync(join(tmpdir(), 'dm-probe-tools-'));
    toolsStore = openSqliteStore(':memory:');
    tools = await startToolServer({
      common: CommonConfigSchema.parse({
        dataDir: toolsDir,
        containerEngine: { host: engine.dockerHost },
      }),
      config: ToolServerConfigSchema.parse({
        host: '127.0.0.1',
        port: 0,
        allowCaps: [...READ_CAPABILITIES],
      }),
      logger: createSilentLogger(),
      tokens: new TokenRegistry(ADMIN),
      store: toolsStore,
    });

    // No `container` anywhere: the check reads the container named like its service.
    const container = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      checks: [{ kind: 'container' as const, ...extra }],
    });
    probe = await startTestProbe({
      manifest: manifestOf({
        defaults: { timeoutMs: 10_000, retries: 0, thresholds: { failure: 1, success: 1 } },
        services: [
          container('dm-running'),
          container('dm-exited'),
          container('dm-ghost'),
          container('dm-loop', { maxRestarts: 2, restartWindowS: 30 }),
        ],
      }),
      config: { toolServer: { url: tools.server.url, token: ADMIN } },
    });
  }, 60_000);

  afterAll(async () => {
    await probe?.stop();
    if (!toolsClosed) await tools?.close();
    await toolsStore?.close();
    await engine?.close();
    if (toolsDir !== undefined) rmSync(toolsDir, { recursive: true, force: true });
  }, 60_000);

  async function probeOne(name: string): Promise<Json> {
    const { status, body } = await probe.call('POST', `/services/${name}/probe`);
    expect(status).toBe(200);
    return body;
  }

  const restartCountOf = async (name: string): Promise<number> =>
    Number(await engine.cli(['inspect', '--format', '{{.RestartCount}}', name]));

  describe('container checks through the tool server', () => {
    it('calls a running container up', async () => {
      const report = await probeOne('dm-running');
      expect(report).toMatchObject({ state: 'up', outcome: 'pass' });
      expect(report.checks[0].message).toBe('running');
      expect(report.checks[0].evidence).toMatchObject({
        reasons: [],
        container: { name: 'dm-running', state: 'running', exitCode: null, restartsInWindow: 0 },
      });
    });

    it('calls a container that exited with code 3 down, naming the code', async () => {
      const report = await probeOne('dm-exited');
      expect(report).toMatchObject({ state: 'down', outcome: 'fail' });
      const evidence = report.checks[0].evidence;
      expect(evidence.reasons[0]).toMatch(/exit code 3/);
      expect(evidence.container).toMatchObject({ state: 'exited', exitCode: 3, oomKilled: false });
      expect(typeof evidence.container.finishedAt).toBe('string');
    });

    it('calls a container that does not exist down as not found', async () => {
      const report = await probeOne('dm-ghost');
      expect(report).toMatchObject({ state: 'down', outcome: 'fail' });
      expect(report.checks[0].evidence.reasons).toEqual(['container dm-ghost not found']);
      expect(report.checks[0].evidence.error.code).toBe('NOT_FOUND');
    });

    it('finds a restart loop from the restart count climbing between rounds', async () => {
      // A real restart loop, not a simulation. Podman here restarts a container with
      // `--restart always` as soon as it exits (its RestartCount climbs by about ten a second).
      // Docker waits between restarts, 100 ms doubling each time (the 7th comes some 13 s after
      // the start), and shows the container `restarting` meanwhile: started here, so the
      // rounds see the quick first restarts.
      await engine.cli([
        'run',
        '-d',
        '--name',
        'dm-loop',
        '--restart',
        'always',
        image,
        'sh',
        '-c',
        'exit 1',
      ]);
      // The first round has nothing to compare the restart count with.
      const first = await probeOne('dm-loop');
      expect(first.checks[0].evidence.container.restartsInWindow).toBe(0);
      const before = first.checks[0].evidence.container.restartCount as number;
      await waitFor(
        'two more restarts',
        async () => ((await restartCountOf('dm-loop')) >= before + 2 ? true : undefined),
        20_000,
      );
      const second = await probeOne('dm-loop');
      expect(second).toMatchObject({ state: 'down', outcome: 'fail' });
      const evidence = second.checks[0].evidence;
      expect(evidence.container.restartCount).toBeGreaterThanOrEqual(before + 2);
      expect(evidence.container.restartsInWindow).toBe(evidence.container.restartCount - before);
      // Whichever moment of the loop the round caught: running or exited between restarts
      // (Podman, and Docker for a moment), or Docker's `restarting` while it waits.
      expect(evidence.reasons).toContain(
        kind === 'docker' && evidence.container.state === 'restarting'
          ? `restart loop: restarting (restart count ${String(evidence.container.restartCount)})`
          : `restart loop: ${String(evidence.container.restartsInWindow)} restarts within 30 s`,
      );
    });
  });

  describe('the tool server gone', () => {
    it('makes container checks unknown and leaves every state as it was', async () => {
      await tools.close();
      toolsClosed = true;
      const running = await probeOne('dm-running');
      expect(running).toMatchObject({ state: 'up', outcome: null, alert: false });
      expect(running.transition).toBeUndefined();
      expect(running.checks[0].status).toBe('unknown');
      expect(running.checks[0].evidence.error.code).toBe('UNREACHABLE');
      expect(running.checks[0].evidence.reasons[0]).toMatch(
        /^cannot inspect dm-running: UNREACHABLE/,
      );
      const exited = await probeOne('dm-exited');
      expect(exited).toMatchObject({ state: 'down', outcome: null });
      expect(exited.checks[0].status).toBe('unknown');
    });
  });
});

describe('restart loop judgement (regressions)', () => {
  const check = manifestOf({
    services: [
      { name: 'app', checks: [{ kind: 'container', maxRestarts: 2, restartWindowS: 30 }] },
    ],
  }).services[0]?.checks[0] as ContainerCheck;
  const judge = async (history: RestartHistory, seen: InspectedContainer) =>
    runContainerCheck(() => Promise.resolve(seen), history, check, new AbortController().signal);

  it('calls a loop caught between two restarts (exited) a restart loop', async () => {
    const history = new RestartHistory();
    await judge(history, { name: 'app', state: 'running', restartCount: 4 });
    const attempt = await judge(history, {
      name: 'app',
      state: 'exited',
      exitCode: 1,
      restartCount: 9,
    });
    expect(attempt.status).toBe('fail');
    expect(attempt.evidence.reasons).toEqual([
      'exited (exit code 1)',
      'restart loop: 5 restarts within 30 s',
    ]);
  });

  it('names a window shorter than a minute in seconds, not as 0 or 1 min', async () => {
    const history = new RestartHistory();
    await judge(history, { name: 'app', state: 'running', restartCount: 0 });
    const attempt = await judge(history, { name: 'app', state: 'running', restartCount: 1 });
    expect(attempt).toMatchObject({
      status: 'degraded',
      message: 'restarted by the engine since the last round (restart count 1, 1 within 30 s)',
    });
    expect(attempt.evidence.container?.restartsSinceLast).toBe(1);
  });

  it('is degraded only in the round that first sees a restart; the next passes', async () => {
    const history = new RestartHistory();
    await judge(history, { name: 'app', state: 'running', restartCount: 0 });
    const news = await judge(history, {
      name: 'app',
      state: 'running',
      restartCount: 1,
      finishedAt: '2026-12-04T21:00:00Z',
    });
    expect(news.status).toBe('degraded');
    expect(news.message).toContain('last exit 2026-12-04T21:00:00Z');
    const after = await judge(history, { name: 'app', state: 'running', restartCount: 1 });
    expect(after.status).toBe('pass');
    // the window still counts it: a second restart soon after is a loop (maxRestarts 2)
    const again = await judge(history, { name: 'app', state: 'running', restartCount: 2 });
    expect(again.status).toBe('fail');
    expect(again.evidence.reasons).toEqual(['restart loop: 2 restarts within 30 s']);
  });
});
