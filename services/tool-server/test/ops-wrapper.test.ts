import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRAPPER } from './sshd-fixture.ts';

/** The forced-command wrapper run directly, as sshd runs it: `sh wrapper` with SSH_ORIGINAL_COMMAND. */

const ALLOWLIST = `# test allowlist
@set containers grafana outline
@set tricky -rf /etc/hostname

echo hello
   echo indented
docker ps
docker restart {containers}
docker logs --tail {int} {grafana|outline}
ls {tricky}
cat /etc/hostname
sleep {int}
false
`;

// Made at collection time: the corpus below names canary files inside it.
const dir = mkdtempSync(join(tmpdir(), 'dm-wrapper-'));
const canaryDir = join(dir, 'canaries');
beforeAll(() => {
  mkdirSync(canaryDir);
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'allowlist'), ALLOWLIST);
  writeFileSync(
    join(dir, 'bin', 'docker'),
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${join(dir, 'docker.log')}'\n`,
    { mode: 0o755 },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function wrapper(command: string | undefined, env: Record<string, string> = {}) {
  const res = spawnSync('sh', [WRAPPER], {
    env: {
      PATH: '/usr/bin:/bin',
      STACKOPS_ALLOWLIST: join(dir, 'allowlist'),
      STACKOPS_LOG_FILE: join(dir, 'decisions.log'),
      STACKOPS_PATH: `${join(dir, 'bin')}:/usr/bin:/bin`,
      ...(command === undefined ? {} : { SSH_ORIGINAL_COMMAND: command }),
      ...env,
    },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const dockerLog = (): string => {
  try {
    return readFileSync(join(dir, 'docker.log'), 'utf8');
  } catch {
    return '';
  }
};

describe('stackops-wrapper', () => {
  it('runs an allowlisted command and exits with its status', () => {
    expect(wrapper('echo hello')).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
    expect(wrapper('echo indented').stdout).toBe('indented\n');
    expect(wrapper('false').code).toBe(1);
  });

  it('matches placeholders: named sets, inline alternatives and numbers', () => {
    expect(wrapper('docker restart grafana').code).toBe(0);
    expect(wrapper('docker logs --tail 20 outline').code).toBe(0);
    expect(dockerLog()).toBe('restart grafana\nlogs --tail 20 outline\n');
    for (const refused of [
      'docker restart postgres',
      'docker restart grafana outline',
      'docker restart',
      'docker logs --tail 2x outline',
      'docker logs --tail 20 homepage',
      'docker logs --tail 1234567890 grafana',
    ]) {
      expect(wrapper(refused), refused).toMatchObject({ code: 126 });
    }
    expect(dockerLog()).toBe('restart grafana\nlogs --tail 20 outline\n');
  });

  it('never lets a placeholder stand for an option or a path, even when listed', () => {
    expect(wrapper('ls -rf').code).toBe(126);
    expect(wrapper('ls /etc/hostname').stderr).toBe(
      'stackops: refused: absolute path in argument: /etc/hostname\n',
    );
    expect(wrapper('cat /etc/hostname').code).toBe(0); // a literal absolute path is allowed
  });

  const canary = (n: number): string => join(canaryDir, `c${n}`);
  const corpus: [name: string, command: string, reason: string][] = [
    ['semicolon', `echo hello; touch ${canary(1)}`, 'shell metacharacter'],
    ['and-list', `echo hello && touch ${canary(2)}`, 'shell metacharacter'],
    ['or-list', `false || touch ${canary(3)}`, 'shell metacharacter'],
    ['pipe', `echo hello | touch ${canary(4)}`, 'shell metacharacter'],
    ['background', `echo hello & touch ${canary(5)}`, 'shell metacharacter'],
    ['backticks', `echo \`touch ${canary(6)}\``, 'shell metacharacter'],
    ['command substitution', `echo $(touch ${canary(7)})`, 'shell metacharacter'],
    ['variable', 'echo $HOME', 'shell metacharacter'],
    ['braced variable', 'echo ${IFS}hello', 'shell metacharacter'],
    ['newline', `echo hello\ntouch ${canary(8)}`, 'line break'],
    ['carriage return', `echo hello\rtouch ${canary(9)}`, 'line break'],
    ['tab', `echo\thello`, 'character outside'],
    ['redirect out', `echo hello > ${canary(10)}`, 'shell metacharacter'],
    ['append', `echo hello >> ${canary(11)}`, 'shell metacharacter'],
    ['redirect in', 'echo hello < /etc/passwd', 'shell metacharacter'],
    ['subshell', `(touch ${canary(12)})`, 'shell metacharacter'],
    ['single quotes', "echo 'hello'", 'quote or backslash'],
    ['double quotes', 'echo "hello"', 'quote or backslash'],
    ['backslash', 'echo hel\\lo', 'quote or backslash'],
    ['star glob', 'echo *', 'glob character'],
    ['question glob', 'echo hell?', 'glob character'],
    ['bracket glob', 'echo [h]ello', 'glob character'],
    ['brace expansion', 'echo {hello,x}', 'glob character'],
    ['tilde', 'echo ~root', 'glob character'],
    ['dot-dot', 'docker restart ../grafana', 'path traversal'],
    ['dot-dot in path', `cat /etc/../etc/hostname`, 'path traversal'],
    ['absolute path', 'cat /etc/shadow', 'absolute path'],
    ['leading option', 'docker restart --help', 'not in allowlist'],
    ['unknown command', 'touch canary', 'not in allowlist'],
    ['unknown command with a path', `touch ${canary(13)}`, 'absolute path'],
    ['disallowed container', 'docker restart postgres', 'not in allowlist'],
    ['non-ASCII', 'echo héllo', 'character outside'],
    ['over-long', `echo ${'a'.repeat(1100)}`, 'longer than 1024'],
    ['empty', '', 'no command given'],
    ['only spaces', '   ', 'no command given'],
  ];

  it.each(corpus)('refuses %s with exit 126 and the reason on stderr', (_name, command, reason) => {
    const res = wrapper(command);
    expect(res.code).toBe(126);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^stackops: refused: [^\n]+\n$/);
    expect(res.stderr).toContain(reason);
  });

  it('ran nothing outside the allowlist while refusing the corpus', () => {
    for (const [, command] of corpus) wrapper(command);
    expect(readdirSync(canaryDir)).toEqual([]);
    expect(dockerLog()).not.toContain('postgres');
  });

  it('refuses a login without a command (an interactive shell)', () => {
    expect(wrapper(undefined).stderr).toContain('no command given');
  });

  it('refuses everything when the allowlist is missing', () => {
    const res = wrapper('echo hello', { STACKOPS_ALLOWLIST: join(dir, 'nope') });
    expect(res).toMatchObject({ code: 126, stdout: '' });
    expect(res.stderr).toContain('allowlist');
  });

  it('logs each decision with its reason and the command, control characters masked', () => {
    const log = join(dir, 'one.log');
    wrapper('echo hello', { STACKOPS_LOG_FILE: log });
    wrapper('docker restart postgres', { STACKOPS_LOG_FILE: log });
    wrapper('echo a\nb', { STACKOPS_LOG_FILE: log });
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/ stackops-wrapper\[\d+\] allowed \(echo hello\): echo hello$/);
    expect(lines[1]).toMatch(/refused \(command not in allowlist\): docker restart postgres$/);
    expect(lines[2]).toMatch(/refused \(line break in command\): echo a\?b$/);
  });

  it('stops an allowed command at STACKOPS_TIMEOUT', () => {
    const started = performance.now();
    const res = wrapper('sleep 5', { STACKOPS_TIMEOUT: '1' });
    expect(res.code).toBe(124); // timeout(1)'s status
    expect(performance.now() - started).toBeLessThan(4_000);
  });
});
