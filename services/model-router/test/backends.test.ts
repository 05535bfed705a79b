import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createSilentLogger } from '@datamancy/core';
import { DockerEngine, resolveEndpoint } from '@datamancy/container-engine';
import { freePort, startPodman, type PodmanFixture } from '@datamancy/testkit';
import { createBackend } from '../src/backends.ts';
import { ModelRouterConfigSchema, ModelSchema } from '../src/config.ts';

/** The example configuration, and the container backend against a real Podman API. */

describe('model router configuration', () => {
  it('accepts the example file in docs/examples', () => {
    const doc = parseYaml(
      readFileSync(
        fileURLToPath(new URL('../../../docs/examples/model-router.yaml', import.meta.url)),
        'utf8',
      ),
    ) as { modelRouter: unknown };
    const config = ModelRouterConfigSchema.parse(doc.modelRouter);
    expect(config.models.map((m) => [m.name, m.backend.kind])).toEqual([
      ['embed', 'url'],
      ['qwen2.5-14b', 'process'],
      ['llama3.1-8b', 'vllm-sleep'],
      ['coder', 'container'],
    ]);
    expect(config.models[1]?.backend).toMatchObject({ healthPath: '/health', stopGraceS: 30 });
  });

  it('names what is wrong in a model entry', () => {
    const bad = ModelSchema.safeParse({
      name: 'x y',
      memoryGiB: -1,
      backend: { kind: 'process', command: [] },
    });
    expect(bad.error?.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'backend.command',
      'memoryGiB',
      'name',
    ]);
    const empty = ModelRouterConfigSchema.parse({});
    expect(empty.models).toEqual([]); // none by default
  });
});

describe('container backend', () => {
  let podman: PodmanFixture;
  let engine: DockerEngine;
  let port: number;
  beforeAll(async () => {
    podman = await startPodman();
    const image = await podman.importBusybox();
    port = await freePort();
    // a stand-in model server on the host's loopback (busybox httpd serving /health)
    await podman.cli([
      'create',
      '--name',
      'vllm-test',
      '--network',
      'host',
      image,
      'sh',
      '-c',
      `mkdir -p /tmp/www && echo ok > /tmp/www/health && exec httpd -f -p 127.0.0.1:${String(port)} -h /tmp/www`,
    ]);
    engine = new DockerEngine(resolveEndpoint(podman.dockerHost));
  }, 60_000);
  afterAll(async () => {
    await podman?.close();
  });

  it('starts the container, waits for its health, and stops it', async () => {
    const backend = createBackend(
      ModelSchema.parse({
        name: 'm',
        memoryGiB: 1,
        backend: {
          kind: 'container',
          container: 'vllm-test',
          url: `http://127.0.0.1:${String(port)}/v1`,
          stopGraceS: 1,
        },
      }),
      { logger: createSilentLogger(), env: {}, containers: () => engine, onLost: () => undefined },
    );
    expect((await engine.inspect('vllm-test')).state).not.toBe('running');
    await backend.load(AbortSignal.timeout(20_000));
    expect((await engine.inspect('vllm-test')).state).toBe('running');
    expect(backend.root).toBe(`http://127.0.0.1:${String(port)}`);
    expect((await fetch(`${backend.root ?? ''}/health`)).status).toBe(200);
    await backend.unload();
    expect((await engine.inspect('vllm-test')).state).toBe('exited');
    expect(backend.root).toBeUndefined();
  }, 40_000);
});
