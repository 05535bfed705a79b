import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repo's containers.conf for Podman without systemd. */
export const CONTAINERS_CONF = fileURLToPath(
  new URL('../../../stack/podman/containers.conf', import.meta.url),
);
export const BUSYBOX_IMAGE = 'localhost/datamancy-test-busybox:1';
const BUSYBOX_APPLETS = [
  'sh',
  'sleep',
  'cat',
  'echo',
  'ls',
  'test',
  'touch',
  'mkdir',
  'httpd',
  'nc',
  'false',
  'true',
  'rm',
  'id',
  'head',
  'chmod',
  'printf',
  'kill',
  'grep',
];

export interface PodmanFixture {
  /** `unix:///…/podman.sock`, as DOCKER_HOST takes it. */
  dockerHost: string;
  socketPath: string;
  /** Runs the podman CLI against this fixture's private storage; returns stdout. */
  cli(args: string[]): Promise<string>;
  /** Imports a busybox rootfs (Debian's busybox-static) as BUSYBOX_IMAGE. */
  importBusybox(): Promise<string>;
  close(): Promise<void>;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
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
    {
      env,
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 20_000;
  while (!(await ping(socketPath))) {
    if (service.exitCode !== null)
      throw new Error(`podman system service exited with ${service.exitCode}`);
    if (Date.now() > deadline) throw new Error('podman system service did not answer within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dockerHost: `unix://${socketPath}`,
    socketPath,
    cli,
    async importBusybox() {
      const rootfs = join(dir, 'rootfs');
      for (const sub of ['bin', 'tmp', 'etc', 'run'])
        mkdirSync(join(rootfs, sub), { recursive: true });
      copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
      for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
      const tar = join(dir, 'rootfs.tar');
      await run('tar', ['-C', rootfs, '-cf', tar, '.']);
      await cli([
        'import',
        '--change',
        'CMD ["/bin/sh"]',
        '--change',
        'ENV PATH=/bin',
        tar,
        BUSYBOX_IMAGE,
      ]);
      return BUSYBOX_IMAGE;
    },
    async close() {
      await cli(['rm', '--all', '--force', '--time', '0']).catch(() => '');
      service.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        if (service.exitCode !== null) resolve();
        else {
          const timer = setTimeout(() => service.kill('SIGKILL'), 5000);
          service.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }
      });
      removeStateDir(dir);
    },
  };
}

/**
 * Removes the fixture's state directory once the service is gone. Containers' shm tmpfs
 * mounts can outlive the service by a moment and conmon's cleanup may still be writing, which
 * made a plain rm fail with EBUSY or ENOTEMPTY: unmount what is mounted below it, then let rm
 * retry those transient errors for a bounded time.
 */
function removeStateDir(dir: string): void {
  const mounted = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounted) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
}
