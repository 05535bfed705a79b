import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** The container engines the tests run against; most users run Docker. */
export type EngineKind = 'docker' | 'podman';
export const ENGINE_KINDS: readonly EngineKind[] = ['docker', 'podman'];

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

/** An engine on a private socket and private storage, started for a test and stopped after it. */
export interface EngineFixture {
  kind: EngineKind;
  /** `unix:///…/<engine>.sock`, as DOCKER_HOST takes it. */
  dockerHost: string;
  socketPath: string;
  /** Runs the engine's CLI against this fixture (flags common to `docker` and `podman`); returns stdout. */
  cli(args: string[]): Promise<string>;
  /** Imports a busybox rootfs (Debian's busybox-static) as BUSYBOX_IMAGE. */
  importBusybox(): Promise<string>;
  /** Removes every container of this fixture (running or not) at once. */
  removeAllContainers(): Promise<void>;
  close(): Promise<void>;
}

export function ping(socketPath: string): Promise<boolean> {
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

/** Waits for the API on `socketPath`, failing early when the daemon exits. */
export async function untilAnswering(
  what: string,
  socketPath: string,
  exited: () => number | null,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ping(socketPath))) {
    const code = exited();
    if (code !== null) throw new Error(`${what} exited with ${code}`);
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A busybox root filesystem as a tarball in `dir`, ready for `import`. */
export async function busyboxTarball(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  for (const sub of ['bin', 'tmp', 'etc', 'run']) mkdirSync(join(rootfs, sub), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const tar = join(dir, 'rootfs.tar');
  await run('tar', ['-C', rootfs, '-cf', tar, '.']);
  return tar;
}

/** `import` arguments shared by both CLIs. */
export function busyboxImportArgs(tar: string): string[] {
  return ['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tar, BUSYBOX_IMAGE];
}

/**
 * Removes a fixture's state directory once its daemon is gone. Containers' mounts (shm tmpfs,
 * overlay) can outlive the daemon by a moment and cleanup may still be writing, which made a
 * plain rm fail with EBUSY or ENOTEMPTY: unmount what is mounted below it, then let rm retry
 * those transient errors for a bounded time.
 */
export function removeStateDir(dir: string): void {
  const mounted = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounted) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
}

/** Sends SIGTERM, then SIGKILL after `graceMs`, and resolves once the process is gone. */
export function stopChild(
  child: {
    exitCode: number | null;
    signalCode: NodeJS.Signals | null;
    kill(signal: NodeJS.Signals): boolean;
    once(event: 'exit', fn: () => void): unknown;
  },
  graceMs = 5000,
): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
