import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@datamancy/core';
import { startEngine, testEngines, type EngineFixture } from '@datamancy/testkit';
import { DockerEngine, findDependents, resolveEndpoint, waitForHealthy } from '../src/index.ts';

describe.each(testEngines())('against %s', (kind) => {
  let podman: EngineFixture;
  let engine: DockerEngine;
  let image: string;

  beforeAll(async () => {
    podman = await startEngine(kind);
    image = await podman.importBusybox();
    engine = new DockerEngine(resolveEndpoint(podman.dockerHost));
    const compose = (service: string) => [
      '--label',
      'com.docker.compose.project=stack',
      '--label',
      `com.docker.compose.service=${service}`,
    ];
    await podman.cli([
      'run',
      '-d',
      '--name',
      'dm-web',
      ...compose('web'),
      '-e',
      'DB_PASSWORD=hunter2',
      image,
      'sh',
      '-c',
      'echo started; echo oops >&2; for i in 1 2 3 4 5; do echo line $i; done; exec sleep 100000',
    ]);
    await podman.cli([
      'run',
      '-d',
      '--name',
      'dm-app',
      ...compose('app'),
      '--label',
      'com.docker.compose.depends_on=web:service_started:false',
      image,
      'sleep',
      '100000',
    ]);
    await podman.cli(['run', '-d', '--name', 'dm-exited', image, 'sh', '-c', 'exit 3']);
    await podman.cli([
      'run',
      '-d',
      '--name',
      'dm-health',
      '--health-cmd',
      'test -f /tmp/ready',
      '--health-interval',
      '1s',
      image,
      'sleep',
      '100000',
    ]);
  }, 120_000);

  afterAll(async () => {
    await podman?.close();
  });

  describe('DockerEngine', () => {
    it('pings the engine and names its product', async () => {
      const info = await engine.ping();
      expect(info.product).toBe(kind === 'podman' ? 'Podman Engine' : 'Docker Engine');
      expect(info.endpoint).toBe(podman.dockerHost);
    });

    it('lists containers with state, compose labels and depends_on', async () => {
      const list = await engine.list();
      const web = list.find((c) => c.name === 'dm-web');
      const app = list.find((c) => c.name === 'dm-app');
      expect(web).toMatchObject({
        state: 'running',
        image: expect.stringContaining('busybox'),
        compose: { project: 'stack', service: 'web' },
      });
      expect(app?.compose.dependsOn).toEqual(['web']);
      expect(list.find((c) => c.name === 'dm-exited')?.state).toBe('exited');
      expect(findDependents(list, web!)).toEqual(['dm-app']);
    });

    it('inspects a container with restart count, start time, exit code and redacted environment', async () => {
      const web = await engine.inspect('dm-web');
      expect(web).toMatchObject({
        name: 'dm-web',
        state: 'running',
        restartCount: 0,
        oomKilled: false,
      });
      expect(Date.parse(web.startedAt ?? '')).toBeGreaterThan(Date.now() - 600_000);
      expect(JSON.stringify(web.raw)).not.toContain('hunter2');
      expect(JSON.stringify(web.raw)).toContain('DB_PASSWORD=[redacted]');
      const exited = await engine.inspect('dm-exited');
      expect(exited).toMatchObject({ state: 'exited', exitCode: 3 });
      const health = await engine.inspect('dm-health');
      expect(health.healthcheck?.argv).toEqual(['/bin/sh', '-c', 'test -f /tmp/ready']);
    });

    it('reads logs split by stream, with tail and a byte budget keeping the newest lines', async () => {
      const all = await engine.logs('dm-web', { maxBytes: 10_000 });
      expect(all.lines).toContainEqual({ stream: 'stdout', text: 'started' });
      expect(all.lines).toContainEqual({ stream: 'stderr', text: 'oops' });
      const tail = await engine.logs('dm-web', { maxBytes: 10_000, tail: 2, stderr: false });
      expect(tail.lines.map((l) => l.text)).toEqual(['line 4', 'line 5']);
      const small = await engine.logs('dm-web', { maxBytes: 14, stderr: false });
      expect(small).toMatchObject({ truncated: true });
      expect(small.lines.map((l) => l.text)).toEqual(['line 4', 'line 5']);
    });

    it('computes stats as docker stats does', async () => {
      const stats = await engine.stats('dm-web');
      expect(stats.memoryBytes).toBeGreaterThan(0);
      expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(stats.onlineCpus).toBeGreaterThanOrEqual(1);
    });

    it('runs exec with argv, exit code and a timeout', async () => {
      const ok = await engine.exec('dm-web', ['sh', '-c', 'echo out; echo err >&2; exit 4'], {
        timeoutMs: 10_000,
        maxOutputBytes: 1000,
      });
      expect(ok).toMatchObject({ exitCode: 4, stdout: 'out', stderr: 'err', timedOut: false });
      const slow = await engine.exec('dm-web', ['sleep', '5'], {
        timeoutMs: 300,
        maxOutputBytes: 1000,
      });
      expect(slow).toMatchObject({ timedOut: true, exitCode: null });
    });

    it('restarts a container, changing its start time', async () => {
      const before = await engine.inspect('dm-app');
      await new Promise((r) => setTimeout(r, 1100));
      await engine.restart('dm-app', { timeoutS: 0 });
      const after = await engine.inspect('dm-app');
      expect(after.state).toBe('running');
      expect(Date.parse(after.startedAt ?? '')).toBeGreaterThan(Date.parse(before.startedAt ?? ''));
    });

    it('stops and starts a container, both idempotent', async () => {
      await engine.stop('dm-app', { timeoutS: 0 });
      await engine.stop('dm-app', { timeoutS: 0 });
      expect((await engine.inspect('dm-app')).state).toBe('exited');
      await engine.start('dm-app');
      await engine.start('dm-app');
      expect((await engine.inspect('dm-app')).state).toBe('running');
    });

    it('answers 404 for an unknown container', async () => {
      const err = await engine.inspect('no-such-container').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({
        code: 'NOT_FOUND',
        message: 'no container named no-such-container',
      });
    });

    it('explains an unreachable engine, naming the socket', async () => {
      const socket = join(mkdtempSync(join(tmpdir(), 'dm-none-')), 'docker.sock');
      const none = new DockerEngine(resolveEndpoint(`unix://${socket}`));
      const err = await none.list().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAVAILABLE', status: 503 });
      expect((err as Error).message).toContain(socket);
      expect((err as Error).message).toContain('DOCKER_HOST');
    });
  });

  describe('waitForHealthy', () => {
    it('runs the container healthcheck itself when the engine has no verdict yet', async () => {
      const notYet = await waitForHealthy(engine, 'dm-health', {
        timeoutMs: 1200,
        intervalMs: 200,
      });
      expect(notYet).toMatchObject({ outcome: 'unhealthy', via: 'deadline' });
      await podman.cli(['exec', 'dm-health', 'touch', '/tmp/ready']);
      const ready = await waitForHealthy(engine, 'dm-health', { timeoutMs: 5000, intervalMs: 200 });
      expect(ready.outcome).toBe('healthy');
      // Podman without systemd never runs healthchecks: our run of the command decides. Docker
      // runs them itself, so its own verdict may come first.
      expect(ready.via).toBe(kind === 'podman' ? 'exec-healthcheck' : ready.via);
      expect(['engine', 'exec-healthcheck']).toContain(ready.via);
    });

    it('reports running without a healthcheck, and exited containers with their code', async () => {
      expect(await waitForHealthy(engine, 'dm-web', { timeoutMs: 2000 })).toMatchObject({
        outcome: 'running',
        via: 'state',
      });
      expect(await waitForHealthy(engine, 'dm-exited', { timeoutMs: 2000 })).toMatchObject({
        outcome: 'exited',
        exitCode: 3,
      });
    });
  });
});

describe('resolveEndpoint', () => {
  it('reads unix and tcp DOCKER_HOST values and refuses others', () => {
    expect(resolveEndpoint('unix:///run/x.sock')).toEqual({
      kind: 'socket',
      socketPath: '/run/x.sock',
    });
    expect(resolveEndpoint('tcp://127.0.0.1:2375')).toEqual({
      kind: 'tcp',
      protocol: 'http',
      host: '127.0.0.1',
      port: 2375,
    });
    expect(() => resolveEndpoint('ssh://host')).toThrow(/DOCKER_HOST must be/);
  });
});
