import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@datamancy/core';
import { expandManifest } from '@datamancy/probe';
import { startPodman, type PodmanFixture } from '@datamancy/testkit';
import { createEngine, discoverStack, loadEngineSnapshot } from '../src/index.ts';

let podman: PodmanFixture;
let composeFile: string;

beforeAll(async () => {
  podman = await startPodman();
  const image = await podman.importBusybox();
  const compose = (project: string, service: string) => [
    '--label',
    `com.docker.compose.project=${project}`,
    '--label',
    `com.docker.compose.service=${service}`,
  ];
  await podman.cli([
    'run',
    '-d',
    '--name',
    'shop-web-1',
    ...compose('shop', 'web'),
    image,
    'sleep',
    '3600',
  ]);
  await podman.cli([
    'run',
    '-d',
    '--name',
    'shop-worker-1',
    ...compose('shop', 'worker'),
    '--label',
    'com.docker.compose.depends_on=web:service_started:false',
    image,
    'sleep',
    '3600',
  ]);
  await podman.cli([
    'run',
    '-d',
    '--name',
    'stray-exporter',
    '--label',
    'datamancy.group=monitoring',
    '--label',
    'datamancy.probe.url=http://stray-exporter:9100/metrics',
    image,
    'sleep',
    '3600',
  ]);
  await podman.cli(['run', '-d', '--name', 'finished', image, 'true']);
  const dir = mkdtempSync(join(tmpdir(), 'dm-discovery-'));
  composeFile = join(dir, 'compose.yaml');
  writeFileSync(
    composeFile,
    [
      'name: shop',
      'services:',
      '  web:',
      '    image: localhost/web',
      '    healthcheck:',
      '      test: wget -q --spider http://localhost:8080/healthz',
      '  db:',
      '    image: postgres:16',
      '  worker:',
      '    image: localhost/worker',
      '    environment: {DB_HOST: db}',
      '    depends_on: [web]',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await podman?.close();
});

describe('discovery with the live container engine (Podman)', () => {
  it('lists containers with their compose identity and state', async () => {
    const snapshot = await loadEngineSnapshot(createEngine(podman.dockerHost));
    expect(snapshot.endpoint).toBe(podman.dockerHost);
    const byName = new Map(snapshot.containers.map((c) => [c.name, c]));
    expect(byName.get('shop-web-1')).toMatchObject({
      state: 'running',
      compose: { project: 'shop', service: 'web' },
    });
    expect(byName.get('shop-worker-1')?.compose.dependsOn).toEqual(['web']);
    expect(byName.get('finished')?.state).toBe('exited');
  });

  it('names compose containers from the engine and adds running strays with a container check', async () => {
    const result = await discoverStack({
      composeFiles: [composeFile],
      engine: createEngine(podman.dockerHost),
      env: {},
    });
    const byName = new Map(result.manifest.services.map((s) => [s.name, s]));
    expect([...byName.keys()]).toEqual(['web', 'db', 'worker', 'stray-exporter']);
    expect(byName.get('web')).toMatchObject({
      container: 'shop-web-1',
      checks: [{ kind: 'http', url: 'http://web:8080/healthz' }],
    });
    expect(byName.get('worker')).toMatchObject({
      container: 'shop-worker-1',
      dependsOn: ['web', 'db'],
    });
    // not running: the compose naming is the best guess, and a warning says so
    expect(byName.get('db')?.container).toBe('shop-db-1');
    expect(result.warnings).toEqual([`db: no container in the engine (${podman.dockerHost})`]);
    expect(byName.get('stray-exporter')).toEqual({
      name: 'stray-exporter',
      container: 'stray-exporter',
      group: 'monitoring',
      dependsOn: [],
      internal: ['http://stray-exporter:9100/metrics'],
      external: [],
      checks: [{ kind: 'container' }],
    });
    // an exited container that compose does not know is not a service
    expect(byName.has('finished')).toBe(false);
    expect(result.graph.nodes.find((n) => n.name === 'web')?.sources).toEqual([
      'compose',
      'engine',
    ]);
    const expanded = expandManifest(result.manifest, { domain: 'x.org', defaultIntervalS: 30 });
    expect(expanded.services.find((s) => s.name === 'stray-exporter')?.checks).toContainEqual(
      expect.objectContaining({ kind: 'container', container: 'stray-exporter' }),
    );
  });

  it('fails on an unreachable engine, or warns and goes on when told to', async () => {
    const dead = createEngine(`unix://${join(tmpdir(), 'no-such-engine.sock')}`);
    await expect(discoverStack({ composeFiles: [composeFile], engine: dead })).rejects.toSatisfy(
      (err) => err instanceof AppError && err.code === 'UNAVAILABLE',
    );
    const result = await discoverStack({
      composeFiles: [composeFile],
      engine: dead,
      onEngineError: 'warn',
    });
    expect(result.warnings[0]).toMatch(/^container engine left out: no container engine reachable/);
    expect(result.manifest.services.map((s) => s.container)).toEqual([
      'shop-web-1',
      'shop-db-1',
      'shop-worker-1',
    ]);
  });
});
