import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ALLOWLIST_TEMPLATE,
  installOps,
  WRAPPER_SOURCE,
  type OpsInstallOptions,
} from '../src/commands/ops.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'datamancy.js');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh install root holding a host key, as openssh-server leaves one in /etc/ssh. */
function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'dm-ops-root-'));
  dirs.push(root);
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-f',
    join(root, 'etc/ssh/ssh_host_ed25519_key'),
  ]);
  return root;
}

function install(root: string, overrides: Partial<OpsInstallOptions> = {}) {
  const lines: string[] = [];
  installOps({
    root,
    user: 'stackops',
    keyDir: '/srv/datamancy/ops',
    wrapperPath: '/usr/local/lib/datamancy/stackops-wrapper',
    allowlistPath: '/etc/stackops/allowlist',
    knownHostNames: ['localhost', '127.0.0.1'],
    dryRun: false,
    uid: 0,
    print: (line) => lines.push(line),
    ...overrides,
  });
  return lines.join('\n');
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('datamancy ops install (below a --root prefix)', () => {
  it('installs the wrapper, allowlist template, key pair, known_hosts and a restricted authorized_keys', () => {
    const root = makeRoot();
    const out = install(root);
    const wrapper = join(root, 'usr/local/lib/datamancy/stackops-wrapper');
    expect(readFileSync(wrapper, 'utf8')).toBe(readFileSync(WRAPPER_SOURCE, 'utf8'));
    expect(mode(wrapper)).toBe(0o755);
    const allowlist = join(root, 'etc/stackops/allowlist');
    expect(readFileSync(allowlist, 'utf8')).toBe(readFileSync(ALLOWLIST_TEMPLATE, 'utf8'));
    expect(mode(allowlist)).toBe(0o644);
    const key = join(root, 'srv/datamancy/ops/id_ed25519');
    expect(mode(key)).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toContain('BEGIN OPENSSH PRIVATE KEY');
    const publicKey = readFileSync(`${key}.pub`, 'utf8').trim();

    const sshDir = join(root, 'home/stackops/.ssh');
    expect(mode(sshDir)).toBe(0o700);
    expect(mode(join(sshDir, 'authorized_keys'))).toBe(0o600);
    expect(readFileSync(join(sshDir, 'authorized_keys'), 'utf8')).toBe(
      `command="/usr/local/lib/datamancy/stackops-wrapper",restrict,no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc ${publicKey}\n`,
    );
    const hostKey = readFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').split(' ');
    expect(readFileSync(join(root, 'srv/datamancy/ops/known_hosts'), 'utf8')).toBe(
      `localhost,127.0.0.1 ${hostKey[0]} ${hostKey[1]}\n`,
    );
    expect(out).toContain('skip: account stackops');
    expect(out).toContain('knownHostsPath: /srv/datamancy/ops/known_hosts');
  });

  it('is idempotent: a second run changes nothing and keeps the key and an edited allowlist', () => {
    const root = makeRoot();
    install(root);
    const key = join(root, 'srv/datamancy/ops/id_ed25519');
    const before = readFileSync(key, 'utf8');
    writeFileSync(join(root, 'etc/stackops/allowlist'), 'uptime\n');
    const again = install(root);
    expect(readFileSync(key, 'utf8')).toBe(before);
    expect(readFileSync(join(root, 'etc/stackops/allowlist'), 'utf8')).toBe('uptime\n');
    expect(again).not.toMatch(/^(write|generate|create)/m);
    expect(again).toMatch(/^ok: wrapper .* is up to date$/m);
    expect(again).toMatch(/^ok: authorized_keys .* is up to date$/m);
  });

  it('repairs what drifted: a changed wrapper and a loose key mode', () => {
    const root = makeRoot();
    install(root);
    const wrapper = join(root, 'usr/local/lib/datamancy/stackops-wrapper');
    writeFileSync(wrapper, '#!/bin/sh\nexec "$@"\n');
    execFileSync('chmod', ['644', join(root, 'srv/datamancy/ops/id_ed25519')]);
    const out = install(root);
    expect(out).toMatch(/^write wrapper /m);
    expect(out).toMatch(/^tighten .* to mode 600$/m);
    expect(readFileSync(wrapper, 'utf8')).toBe(readFileSync(WRAPPER_SOURCE, 'utf8'));
    expect(mode(join(root, 'srv/datamancy/ops/id_ed25519'))).toBe(0o600);
  });

  it('passes a non-default allowlist path to the wrapper in the forced command', () => {
    const root = makeRoot();
    install(root, { allowlistPath: '/opt/ops/allow' });
    expect(readFileSync(join(root, 'home/stackops/.ssh/authorized_keys'), 'utf8')).toMatch(
      /^command="STACKOPS_ALLOWLIST=\/opt\/ops\/allow exec \/usr\/local\/lib\/datamancy\/stackops-wrapper",restrict,/,
    );
    expect(existsSync(join(root, 'opt/ops/allow'))).toBe(true);
  });

  it('with --dry-run prints what it would do and changes nothing', () => {
    const root = makeRoot();
    const out = install(root, { dryRun: true, uid: 1000 });
    expect(out).toMatch(/^would write wrapper /m);
    expect(out).toMatch(/^would generate ed25519 key pair /m);
    expect(out).toMatch(/^would write authorized_keys /m);
    expect(readdirSync(root)).toEqual(['etc']);
    expect(readdirSync(join(root, 'etc'))).toEqual(['ssh']);
  });

  it('refuses to run without root unless --dry-run, and refuses unsafe paths and names', () => {
    const root = makeRoot();
    expect(() => install(root, { uid: 1000 })).toThrow('run it as root');
    expect(() => install(root, { wrapperPath: 'relative/wrapper' })).toThrow('--wrapper-path');
    expect(() => install(root, { allowlistPath: '/etc/a b' })).toThrow('--allowlist');
    expect(() => install(root, { allowlistPath: '/etc/../tmp/x' })).toThrow('--allowlist');
    expect(() => install(root, { user: 'Root;' })).toThrow('--user');
    expect(readdirSync(root)).toEqual(['etc']);
  });

  it('installs files that work together: the installed wrapper obeys the installed allowlist', () => {
    const root = makeRoot();
    install(root);
    writeFileSync(join(root, 'etc/stackops/allowlist'), 'echo installed\n');
    const run = (command: string) =>
      spawnSync('sh', [join(root, 'usr/local/lib/datamancy/stackops-wrapper')], {
        env: {
          SSH_ORIGINAL_COMMAND: command,
          STACKOPS_ALLOWLIST: join(root, 'etc/stackops/allowlist'),
          STACKOPS_LOG_FILE: join(root, 'wrapper.log'),
        },
        encoding: 'utf8',
      });
    expect(run('echo installed')).toMatchObject({ status: 0, stdout: 'installed\n' });
    expect(run('echo other')).toMatchObject({ status: 126 });
  });

  it('has --help and runs as a CLI command', () => {
    const help = spawnSync(process.execPath, [BIN, 'ops', 'install', '--help'], {
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    for (const flag of [
      '--user',
      '--key-dir',
      '--wrapper-path',
      '--allowlist',
      '--dry-run',
      '--root',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    const root = makeRoot();
    const dry = spawnSync(
      process.execPath,
      [BIN, 'ops', 'install', '--root', root, '--key-dir', '/k', '--dry-run'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(
      `would write wrapper ${join(root, 'usr/local/lib/datamancy/stackops-wrapper')}`,
    );
    expect(readdirSync(root)).toEqual(['etc']);
  });
});
