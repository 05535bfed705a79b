import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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
import { lockFile } from './lock.ts';

export interface DockerFixture extends EngineFixture {
  kind: 'docker';
  /** The daemon's log so far (for a test's failure message). */
  log(): string;
  /**
   * With `ownNetworkNamespace`: a unix socket on the host that reaches `127.0.0.1:port` inside
   * the daemon's namespace (where its published ports are), for a host-side client.
   */
  forward(port: number): Promise<string>;
}

const DOCKERD = '/usr/sbin/dockerd';
/** Debian's client, the daemon's own version (a newer client on PATH negotiates down, too). */
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface DockerOptions {
  /**
   * A data root kept between runs (images built once are there next time), outside the
   * checkout, e.g. under /var/cache. One daemon at a time may use it: a lock file beside it
   * makes a second fixture wait. Default: a fresh directory, removed at close.
   */
  dataRoot?: string;
  /**
   * Runs the daemon in a network namespace of its own (`ip netns`) with its iptables rules on,
   * as Docker runs in production: internal networks and the isolation between networks are
   * enforced there, without touching the host's iptables (which the other daemons of a test
   * run share). Published ports are then inside the namespace: reach them with `forward`.
   */
  ownNetworkNamespace?: boolean;
}

const LOCK_WAIT_MS = 20 * 60_000;

/**
 * Where tests keep a Docker data root between runs (outside any checkout), so images built
 * once are reused: `$DATAMANCY_TEST_CACHE/docker`, default /var/cache/datamancy-test/docker.
 */
export function cachedDataRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DATAMANCY_TEST_CACHE ?? '/var/cache/datamancy-test', 'docker');
}

/**
 * Starts Docker Engine (Debian's docker.io) on a private socket, data root and exec root, with
 * its own containerd, so tests neither need nor disturb any engine on the machine.
 *
 * Several test files run their own daemon at once, so each leaves the host's shared state
 * alone: no iptables rules (dockerd would remove the other daemons' DOCKER chains when it
 * starts), no default `docker0` bridge (one name for every daemon). Published ports are served
 * by Docker's userland proxy on 127.0.0.1; the networks a test creates are its own bridges.
 */
export async function startDocker(options: DockerOptions = {}): Promise<DockerFixture> {
  if (!existsSync(DOCKERD))
    throw new Error('dockerd is not installed (Debian docker.io): run scripts/setup-system.sh');
  const dir = mkdtempSync(join(tmpdir(), 'dm-docker-'));
  const dataRoot = options.dataRoot ?? join(dir, 'data');
  const unlock =
    options.dataRoot === undefined
      ? () => undefined
      : await lockFile(`${dataRoot}.lock`, `the Docker data root ${dataRoot}`, LOCK_WAIT_MS);
  const socketPath = join(dir, 'docker.sock');
  const logPath = join(dir, 'dockerd.log');
  const netns = options.ownNetworkNamespace === true ? `dm-test-${basename(dir)}` : undefined;
  if (netns !== undefined) {
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  }
  const removeNetns = async (): Promise<void> => {
    if (netns !== undefined) await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
  };
  const logFd = openSync(logPath, 'a');
  const daemonArgs = [
    '--host',
    `unix://${socketPath}`,
    '--data-root',
    dataRoot,
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'dockerd.pid'),
    ...(netns === undefined ? ['--iptables=false', '--ip-masq=false'] : []),
    '--bridge=none',
    '--exec-opt',
    'native.cgroupdriver=cgroupfs',
    '--log-level',
    'warn',
  ];
  // nsenter enters the network namespace only and execs dockerd: the child is the daemon
  // itself (`ip netns exec` would also remount /sys, hiding the cgroup mounts dockerd needs)
  const daemon: ChildProcess =
    netns === undefined
      ? spawn(DOCKERD, daemonArgs, { stdio: ['ignore', logFd, logFd] })
      : spawn('nsenter', [`--net=/run/netns/${netns}`, DOCKERD, ...daemonArgs], {
          stdio: ['ignore', logFd, logFd],
        });
  closeSync(logFd);
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const cli = async (args: string[]): Promise<string> => {
    const { stdout } = await run(DOCKER_CLI, ['--host', `unix://${socketPath}`, ...args], {
      env: { ...process.env, DOCKER_CONFIG: join(dir, 'client') },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  };
  try {
    await untilAnswering('dockerd', socketPath, () => daemon.exitCode);
  } catch (err) {
    await stopChild(daemon);
    await removeNetns();
    const tail = log().split('\n').slice(-15).join('\n');
    removeStateDir(dir);
    unlock();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  const relays: ChildProcess[] = [];
  const removeAllContainers = async (): Promise<void> => {
    const ids = (await cli(['ps', '--all', '--quiet']).catch(() => '')).split('\n').filter(Boolean);
    if (ids.length > 0) await cli(['rm', '--force', '--volumes', ...ids]).catch(() => '');
  };
  return {
    kind: 'docker',
    dockerHost: `unix://${socketPath}`,
    socketPath,
    cli,
    log,
    async importBusybox() {
      await cli(busyboxImportArgs(await busyboxTarball(dir)));
      return BUSYBOX_IMAGE;
    },
    removeAllContainers,
    async forward(port: number) {
      if (netns === undefined) throw new Error('forward: the daemon is not in its own namespace');
      const path = join(dir, `port-${String(port)}.sock`);
      // a small relay inside the namespace: each connection to the socket, to 127.0.0.1:port
      const script = `const net=require('node:net');net.createServer((c)=>{const s=net.connect(${String(port)},'127.0.0.1');c.pipe(s);s.pipe(c);c.on('error',()=>s.destroy());s.on('error',()=>c.destroy())}).listen(process.argv[1],()=>process.stdout.write('ready\\n'))`;
      const relay = spawn(
        'nsenter',
        [`--net=/run/netns/${netns}`, process.execPath, '-e', script, path],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      relays.push(relay);
      await new Promise<void>((resolve, reject) => {
        relay.stdout?.once('data', () => resolve());
        relay.once('exit', (code) => reject(new Error(`port relay exited (${String(code)})`)));
      });
      return path;
    },
    async close() {
      for (const r of relays) r.kill('SIGTERM');
      // Containers' shims outlive dockerd: remove them first, then stop the daemon (and the
      // containerd it started).
      // Networks too: their bridges outlive the daemon.
      await removeAllContainers();
      await cli(['network', 'prune', '--force']).catch(() => '');
      if (options.dataRoot !== undefined) await cli(['volume', 'prune', '--force']).catch(() => '');
      await stopChild(daemon, 15_000);
      await removeNetns();
      removeStateDir(dir);
      unlock();
    },
  };
}
