import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadDatamancyConfig, type ConfigFlags } from '../config.ts';
import { UsageError } from '../errors.ts';
import { generateEd25519KeyPair } from '../ssh-key.ts';

const STACK_OPS = fileURLToPath(new URL('../../../stack/ops/', import.meta.url));
export const WRAPPER_SOURCE = join(STACK_OPS, 'stackops-wrapper');
export const ALLOWLIST_TEMPLATE = join(STACK_OPS, 'allowlist.example');
export const DEFAULT_WRAPPER_PATH = '/usr/local/lib/datamancy/stackops-wrapper';
export const DEFAULT_ALLOWLIST_PATH = '/etc/stackops/allowlist';
const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key.pub';
const KEY_OPTIONS =
  'restrict,no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc';
/** Paths end up in a `command="…"` run by sh: only characters that need no quoting. */
const SAFE_PATH_RE = /^(\/[A-Za-z0-9._+-]+)+$/;
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

export interface OpsInstallOptions {
  /** `/` for the real system; another directory prefixes every path and skips accounts/owners. */
  root: string;
  user: string;
  keyDir: string;
  wrapperPath: string;
  allowlistPath: string;
  /** Names under which the tool server reaches this host (pinned in `<keyDir>/known_hosts`). */
  knownHostNames: string[];
  dryRun: boolean;
  /** The effective uid (0: root). */
  uid: number;
  print(line: string): void;
}

export function checkInstallOptions(o: OpsInstallOptions): void {
  if (!USER_RE.test(o.user)) throw new UsageError(`--user: "${o.user}" is not a POSIX user name`);
  if (!isAbsolute(o.keyDir)) throw new UsageError(`--key-dir: "${o.keyDir}" must be absolute`);
  for (const [flag, path] of [
    ['--wrapper-path', o.wrapperPath],
    ['--allowlist', o.allowlistPath],
  ] as const) {
    if (!SAFE_PATH_RE.test(path) || path.split('/').includes('..')) {
      throw new UsageError(`${flag}: "${path}" must be absolute, without spaces, quotes or ".."`);
    }
  }
  for (const name of o.knownHostNames) {
    if (!/^[A-Za-z0-9.:_-]+$/.test(name)) throw new UsageError(`--known-host-names: "${name}"`);
  }
  if (!o.dryRun && o.uid !== 0) {
    throw new UsageError(
      'ops install changes accounts and system files: run it as root (or with --dry-run)',
    );
  }
}

/** The authorized_keys line: the key may only run the wrapper, with nothing else enabled. */
export function authorizedKeysLine(o: OpsInstallOptions, publicKey: string): string {
  const env =
    o.allowlistPath === DEFAULT_ALLOWLIST_PATH ? '' : `STACKOPS_ALLOWLIST=${o.allowlistPath} exec `;
  return `command="${env}${o.wrapperPath}",${KEY_OPTIONS} ${publicKey}\n`;
}

const sh = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

interface Account {
  home: string;
  uid: number;
  gid: number;
}

function lookupAccount(user: string): (Account & { shell: string }) | undefined {
  let line: string;
  try {
    line = sh('getent', ['passwd', user]);
  } catch {
    return undefined;
  }
  const [, , uid, gid, , home, shell] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), home: home ?? '', shell: shell ?? '' };
}

/**
 * Sets up the stackops account on this host. Idempotent: each step looks first and changes
 * only what differs; `dryRun` prints the same lines as "would …" and changes nothing.
 */
export function installOps(o: OpsInstallOptions): void {
  checkInstallOptions(o);
  const real = o.root === '/';
  const at = (path: string): string => (real ? path : join(o.root, path));
  const did = (what: string): void => o.print(`${o.dryRun ? 'would ' : ''}${what}`);
  const ok = (what: string): void => o.print(`ok: ${what}`);
  const rootOwned = (path: string): void => {
    if (real && !o.dryRun) chownSync(path, 0, 0);
  };
  const writeIfChanged = (path: string, content: string, mode: number, label: string): boolean => {
    const same =
      existsSync(path) &&
      readFileSync(path, 'utf8') === content &&
      (statSync(path).mode & 0o777) === mode;
    if (same) {
      ok(`${label} ${path} is up to date`);
      return false;
    }
    did(`write ${label} ${path} (mode ${mode.toString(8)})`);
    if (!o.dryRun) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      writeFileSync(path, content, { mode });
      chmodSync(path, mode);
    }
    return true;
  };

  // 1. The account: a real shell (the forced command runs through it), no usable password.
  let account: Account | undefined;
  if (!real) {
    o.print(`skip: account ${o.user} (--root: no accounts are created, no owners changed)`);
  } else {
    const found = lookupAccount(o.user);
    if (found === undefined) {
      did(`create system user ${o.user} (home /home/${o.user}, shell /bin/sh)`);
      if (!o.dryRun) {
        sh('useradd', [
          '--system',
          '--create-home',
          '--home-dir',
          `/home/${o.user}`,
          '--shell',
          '/bin/sh',
          '--comment',
          'Datamancy ops (forced command)',
          o.user,
        ]);
        sh('usermod', ['-p', '*', o.user]); // no password, yet not "locked" for sshd without PAM
        account = lookupAccount(o.user);
      }
    } else {
      ok(`user ${o.user} exists (uid ${found.uid}, home ${found.home})`);
      if (/(nologin|false)$/.test(found.shell)) {
        did(
          `set the shell of ${o.user} to /bin/sh (was ${found.shell}: it cannot run the forced command)`,
        );
        if (!o.dryRun) sh('usermod', ['-s', '/bin/sh', o.user]);
      }
      account = found;
    }
  }
  const home = account?.home ?? at(`/home/${o.user}`);

  // 2. The wrapper and the allowlist: root-owned, so the account cannot change its own rules.
  const wrapper = at(o.wrapperPath);
  if (writeIfChanged(wrapper, readFileSync(WRAPPER_SOURCE, 'utf8'), 0o755, 'wrapper'))
    rootOwned(wrapper);
  const allowlist = at(o.allowlistPath);
  if (existsSync(allowlist)) ok(`allowlist ${allowlist} exists (kept as is)`);
  else if (
    writeIfChanged(allowlist, readFileSync(ALLOWLIST_TEMPLATE, 'utf8'), 0o644, 'allowlist template')
  ) {
    rootOwned(allowlist);
  }

  // 3. The control plane's key pair.
  const keyDir = at(o.keyDir);
  const privateKey = join(keyDir, 'id_ed25519');
  if (existsSync(privateKey)) {
    ok(`key ${privateKey} exists`);
    if ((statSync(privateKey).mode & 0o077) !== 0) {
      did(`tighten ${privateKey} to mode 600`);
      if (!o.dryRun) chmodSync(privateKey, 0o600);
    }
  } else {
    did(`generate ed25519 key pair ${privateKey} (mode 600)`);
    if (!o.dryRun) {
      generateEd25519KeyPair(privateKey, `datamancy-ops@${o.user}`);
    }
  }
  const publicKey = existsSync(`${privateKey}.pub`)
    ? readFileSync(`${privateKey}.pub`, 'utf8').trim()
    : `<the public key ${privateKey}.pub>`;

  // 4. Pin this host's own key for the names the tool server uses to reach it.
  const hostKey = at(HOST_KEY);
  const knownHosts = join(keyDir, 'known_hosts');
  if (!existsSync(hostKey)) {
    o.print(`skip: known_hosts (no ${hostKey}: install openssh-server, then run again)`);
  } else {
    const [type, blob] = readFileSync(hostKey, 'utf8').trim().split(/\s+/);
    const line = `${o.knownHostNames.join(',')} ${type} ${blob}\n`;
    if (existsSync(knownHosts) && readFileSync(knownHosts, 'utf8') !== line) {
      ok(
        `known_hosts ${knownHosts} exists and differs from this host's key (kept; delete it to re-pin)`,
      );
    } else writeIfChanged(knownHosts, line, 0o644, 'known_hosts');
  }

  // 5. authorized_keys: owned by the account, mode 600 in a mode-700 .ssh.
  const sshDir = join(home, '.ssh');
  const authorizedKeys = join(sshDir, 'authorized_keys');
  if (!existsSync(sshDir) || (statSync(sshDir).mode & 0o777) !== 0o700) {
    did(`create ${sshDir} (mode 700)`);
    if (!o.dryRun) {
      mkdirSync(sshDir, { recursive: true, mode: 0o700 });
      chmodSync(sshDir, 0o700);
    }
  }
  writeIfChanged(authorizedKeys, authorizedKeysLine(o, publicKey), 0o600, 'authorized_keys');
  if (real && !o.dryRun && account !== undefined) {
    chownSync(sshDir, account.uid, account.gid);
    chownSync(authorizedKeys, account.uid, account.gid);
  }

  o.print(
    [
      '',
      'Point the tool server at this host (datamancy.yaml; allow host.network.ssh in toolServer.allowCaps):',
      '  toolServer:',
      '    plugins:',
      '      ops:',
      '        targets:',
      '          host:',
      `            host: ${o.knownHostNames[0] ?? 'localhost'}`,
      `            user: ${o.user}`,
      `            privateKeyPath: ${o.keyDir}/id_ed25519`,
      `            knownHostsPath: ${o.keyDir}/known_hosts`,
      `Then edit ${o.allowlistPath}: it decides what the key may run (docs/ops.md).`,
    ].join('\n'),
  );
}

interface InstallFlags extends ConfigFlags {
  user: string;
  keyDir?: string;
  wrapperPath: string;
  allowlist: string;
  knownHostNames: string;
  root: string;
  dryRun?: boolean;
}

export function registerOps(program: Command): void {
  const ops = program
    .command('ops')
    .description('SSH operations: the control plane\'s "hands" on a host');
  ops
    .command('install')
    .description(
      'set up the stackops account, forced-command wrapper, allowlist and key pair (as root, on the host)',
    )
    .option('--user <name>', 'account the control plane logs in as', 'stackops')
    .option('--key-dir <dir>', 'where the key pair and known_hosts go (default <data-dir>/ops)')
    .option('--wrapper-path <path>', 'where the wrapper is installed', DEFAULT_WRAPPER_PATH)
    .option(
      '--allowlist <path>',
      'allowlist file (a template is written if absent)',
      DEFAULT_ALLOWLIST_PATH,
    )
    .option(
      '--known-host-names <list>',
      "names pinned to this host's SSH key",
      'localhost,127.0.0.1',
    )
    .option(
      '--root <dir>',
      'install below this directory instead of / (no account, no owners)',
      '/',
    )
    .option('--dry-run', 'print what would be done; change nothing')
    .option('-c, --config <file>', 'config file (for the data dir)')
    .option('-d, --data-dir <dir>', 'data directory (default $DATAMANCY_DATA_DIR or ./data)')
    .addHelpText('after', '\nIdempotent: run it again after an upgrade. See docs/ops.md.')
    .action((flags: InstallFlags) => {
      const keyDir = flags.keyDir ?? join(loadDatamancyConfig(flags, process.env).dataDir, 'ops');
      installOps({
        root: flags.root,
        user: flags.user,
        keyDir,
        wrapperPath: flags.wrapperPath,
        allowlistPath: flags.allowlist,
        knownHostNames: flags.knownHostNames.split(',').filter((n) => n !== ''),
        dryRun: flags.dryRun === true,
        uid: process.getuid?.() ?? -1,
        print: (line) => process.stdout.write(`${line}\n`),
      });
    });
}
