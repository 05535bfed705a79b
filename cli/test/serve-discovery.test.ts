import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPodman, type PodmanFixture } from '@datamancy/testkit';
import { runCli, serveCli, type Served } from './helpers.ts';

/**
 * A fresh `datamancy serve` with a container engine and no manifest: the probe watches the
 * control plane's own services and every container the engine runs, reading them through the
 * tool server it started, so the dashboard is live from the first start.
 */

let podman: PodmanFixture;
let served: Served | undefined;

beforeAll(async () => {
  podman = await startPodman();
  const image = await podman.importBusybox();
  await podman.cli([
    'run',
    '-d',
    '--name',
    'wiki',
    '--label',
    'com.docker.compose.service=wiki',
    image,
    'sleep',
    '3600',
  ]);
}, 60_000);

afterAll(async () => {
  if (served !== undefined && served.child.exitCode === null) {
    served.child.kill('SIGTERM');
    await served.exited;
  }
  await podman?.close();
}, 60_000);

describe('datamancy serve with a container engine', () => {
  it('watches its own services and what the engine runs, without a manifest', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'dm-serve-disc-')), 'data');
    const env = { DATAMANCY_DATA_DIR: dataDir, DOCKER_HOST: podman.dockerHost };
    served = await serveCli([], env);
    expect(served.logs.join('')).toMatch(/"source":"self \+ discovered \(1\)"/);
    const probed = await runCli(['probe', '--url', served.probeUrl ?? ''], { env });
    expect(probed.stdout).toMatch(/^wiki\s+up\s+pass/m);
    expect(probed.stdout).toMatch(/^tool-server\s+up/m);
    expect(probed.stdout).toMatch(/^browser\s+up/m);
    expect(probed.code).toBe(0);
    // the container stops: the probe says so, and the CLI exits 3
    await podman.cli(['stop', '--time', '0', 'wiki']);
    const after = await runCli(['probe', 'wiki', '--url', served.probeUrl ?? ''], { env });
    // one failed round: still up by the default threshold of 2, but not healthy now
    expect(after.stdout).toMatch(/^wiki\s+up\s+fail\s+\d+ ms\s+container: exited/m);
    expect(after.stdout).toContain('0 of 1 healthy');
    expect(after.code).toBe(3);
  });
});
