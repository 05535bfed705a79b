import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeCniLeftovers } from './cni-leftovers.ts';
import {
  busyboxImportArgs,
  busyboxTarball,
  BUSYBOX_IMAGE,
  removeStateDir,
  run,
  stopChild,
  untilAnswering,
  type EngineFixture,
} from './engine.ts';

/** The repo's containers.conf for Podman without systemd. */
export const CONTAINERS_CONF = fileURLToPath(
  new URL('../../../stack/podman/containers.conf', import.meta.url),
);

export interface PodmanFixture extends EngineFixture {
  kind: 'podman';
}

/**
 * Starts Podman's Docker-compatible API on a private socket with private storage (vfs under a
 * temp dir), so tests neither need nor disturb any engine on the machine.
 */
export async function startPodman(): Promise<PodmanFixture> {
  if (!existsSync('/usr/bin/podman'))
    throw new Error('podman is not installed: run scripts/setup-system.sh');
  const dir = mkdtempSync(join(tmpdir(), 'dm-podman-'));
  const socketPath = join(dir, 'podman.sock');
  const env = { ...process.env, CONTAINERS_CONF };
  const prefix = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--storage-driver',
    'vfs',
    '--tmpdir',
    join(dir, 'tmp'),
    // networks too: their configuration is otherwise host-wide (/etc/cni/net.d)
    '--network-config-dir',
    join(dir, 'networks'),
  ];
  const cli = async (args: string[]): Promise<string> => {
    const { stdout } = await run('podman', [...prefix, ...args], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  };
  const service: ChildProcess = spawn(
    'podman',
    [...prefix, 'system', 'service', '--time=0', `unix://${socketPath}`],
    { env, stdio: 'ignore' },
  );
  try {
    await untilAnswering('podman system service', socketPath, () => service.exitCode, 20_000);
  } catch (err) {
    await stopChild(service);
    removeStateDir(dir);
    throw err;
  }
  const removeAllContainers = async (): Promise<void> => {
    await cli(['rm', '--all', '--force', '--time', '0']).catch(() => '');
  };
  return {
    kind: 'podman',
    dockerHost: `unix://${socketPath}`,
    socketPath,
    cli,
    async importBusybox() {
      await cli(busyboxImportArgs(await busyboxTarball(dir)));
      return BUSYBOX_IMAGE;
    },
    removeAllContainers,
    async close() {
      const ids = (await cli(['ps', '--all', '--no-trunc', '--format', '{{.ID}}']).catch(() => ''))
        .split('\n')
        .filter(Boolean);
      await removeAllContainers();
      await cli(['network', 'prune', '--force']).catch(() => '');
      await stopChild(service);
      removeCniLeftovers(ids);
      removeStateDir(dir);
    },
  };
}
