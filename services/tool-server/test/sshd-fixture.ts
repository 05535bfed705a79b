import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD = '/usr/sbin/sshd';
/** The repo's forced-command wrapper, as shipped. */
export const WRAPPER = fileURLToPath(
  new URL('../../../stack/ops/stackops-wrapper', import.meta.url),
);
const KEY_OPTIONS = 'no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc';

export interface SshKey {
  privatePath: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicLine: string;
  /** As `ssh-keygen -l` prints it: `SHA256:…`. */
  fingerprint: string;
}

export interface SshdFixture {
  host: string;
  port: number;
  user: string;
  dir: string;
  hostKey: SshKey;
  /** The key authorized_keys lets in (with the wrapper as its forced command). */
  clientKey: SshKey;
  /** known_hosts pinning the fixture's real host key as `[127.0.0.1]:port`. */
  knownHostsPath: string;
  allowlistPath: string;
  /** The wrapper's decision log. */
  wrapperLogPath: string;
  /** First on the wrapper's PATH: put fake commands (e.g. `docker`) here. */
  binDir: string;
  generateKey(name: string): Promise<SshKey>;
  /** Writes a file in the fixture's dir and returns its path. */
  writeFile(name: string, content: string, mode?: number): string;
  /** What sshd printed so far (`-e`: its log on stderr). */
  logs(): string;
  close(): Promise<void>;
}

export async function generateKey(dir: string, name: string): Promise<SshKey> {
  const privatePath = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', privatePath]);
  const publicLine = readFileSync(`${privatePath}.pub`, 'utf8').trim();
  const { stdout } = await run('ssh-keygen', ['-l', '-f', `${privatePath}.pub`]);
  const fingerprint = stdout.split(' ')[1] ?? '';
  return { privatePath, publicLine, fingerprint };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const quote = (path: string): string => {
  if (/['"\\\n]/.test(path)) throw new Error(`path unusable in authorized_keys: ${path}`);
  return `'${path}'`;
};

function sshdConfig(dir: string, port: number, user: string): string {
  return [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${join(dir, 'host_ed25519')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${user}`,
    'PermitRootLogin forced-commands-only',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no', // the temp dir's parents (/tmp) are world-writable
    'PrintMotd no',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

/** Starts sshd and resolves once it listens; rejects with its log if it exits first. */
function spawnSshd(configPath: string, port: number, log: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(SSHD, ['-D', '-e', '-f', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sshd did not listen within 10 s:\n${log.join('')}`));
    }, 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      log.push(chunk.toString());
      if (log.join('').includes(`Server listening on 127.0.0.1 port ${port}`)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}:\n${log.join('')}`));
    });
  });
}

/**
 * A real OpenSSH server on a free loopback port, with its own host key, config and
 * authorized_keys, logging in the current user with the repo's wrapper as forced command
 * (allowlist, decision log and PATH passed in the `command="…"` option: sshd strips the env).
 */
export async function startSshd(allowlist: string): Promise<SshdFixture> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} missing: run scripts/setup-system.sh`);
  const user = userInfo().username;
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir
  const dir = mkdtempSync(join(tmpdir(), 'dm-sshd-'));
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  const allowlistPath = join(dir, 'allowlist');
  const wrapperLogPath = join(dir, 'wrapper.log');
  writeFileSync(allowlistPath, allowlist);
  const [hostKey, clientKey] = await Promise.all([
    generateKey(dir, 'host_ed25519'),
    generateKey(dir, 'client_ed25519'),
  ]);
  const env = [
    `STACKOPS_ALLOWLIST=${quote(allowlistPath)}`,
    `STACKOPS_LOG_FILE=${quote(wrapperLogPath)}`,
    `STACKOPS_PATH=${quote(`${binDir}:/usr/bin:/bin`)}`,
    'STACKOPS_TIMEOUT=10', // commands left behind by timeout/abort tests end soon
  ].join(' ');
  writeFileSync(
    join(dir, 'authorized_keys'),
    `command="${env} exec /bin/sh ${quote(WRAPPER)}",${KEY_OPTIONS} ${clientKey.publicLine}\n`,
  );

  const log: string[] = [];
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; child === undefined; attempt++) {
    port = await freePort();
    writeFileSync(join(dir, 'sshd_config'), sshdConfig(dir, port, user));
    try {
      child = await spawnSshd(join(dir, 'sshd_config'), port, log);
    } catch (err) {
      // Another process may have taken the port between our probe and sshd's bind.
      if (attempt >= 4 || !log.join('').includes('Address already in use')) throw err;
      log.length = 0;
    }
  }
  const sshd = child;
  const knownHostsPath = join(dir, 'known_hosts');
  const [type, blob] = hostKey.publicLine.split(' ');
  writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${type} ${blob}\n`);

  return {
    host: '127.0.0.1',
    port,
    user,
    dir,
    hostKey,
    clientKey,
    knownHostsPath,
    allowlistPath,
    wrapperLogPath,
    binDir,
    generateKey: (name) => generateKey(dir, name),
    writeFile(name, content, mode = 0o644) {
      const path = join(dir, name);
      writeFileSync(path, content, { mode });
      return path;
    },
    logs: () => log.join(''),
    async close() {
      if (sshd.exitCode === null && sshd.signalCode === null) {
        const exited = new Promise((resolve) => sshd.once('exit', resolve));
        sshd.kill('SIGTERM');
        const timer = setTimeout(() => sshd.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
